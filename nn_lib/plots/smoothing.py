"""Notes 004's exponentially weighted average, for smoothing noisy curves in plots
(the optimizers of nn_lib.training.notes_optimizers keep the same average of the
gradients, on the device)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def ewma_window(beta: float) -> float:
  """How many recent values an EWA with this beta roughly averages: 1 / (1 - beta).

  Notes 004's temperature example: beta = 0.9 averages ~10 days, 0.98 ~50 days,
  0.5 ~2 days. Why: theta_{t-k} weighs (1 - beta) * beta^k, and
  beta^(1 / (1 - beta)) ~ 1/e (0.9^10 = 0.35, 0.98^50 = 0.36), so values older than
  1 / (1 - beta) steps count for less than a third of the newest.
  """
  if not 0.0 <= beta < 1.0:
    raise ValueError(f"beta={beta!r} must be in [0, 1)")
  return 1.0 / (1.0 - beta)


def ewma(values: ArrayLike, beta: float, bias_correction: bool = True) -> np.ndarray:
  """Notes 004's exponentially weighted average of `values` along axis 0, in float64:

      V_0 = 0,   V_t = beta * V_{t-1} + (1 - beta) * theta_t,   t = 1 .. T

  returning V_1 .. V_T, or with `bias_correction` V_t / (1 - beta^t), which starts at
  theta_1 instead of near 0 (the notes' "Bias correction"; its recurrence line with
  the correction inside is garbled: the correction divides the output, V_t itself
  is unchanged). E.g. London's theta_1 = 4, theta_2 = 9 C at beta = 0.9 give
  V = 0.4, 1.26, corrected 4.0, 6.63.

  For smoothing a training curve (`values_t` [T] or [T, ...]) in a plot:
  `ewma(losses_t, 0.9)` averages ~`ewma_window(0.9)` = 10 steps.
  """
  ewma_window(beta)  # validates beta
  values_t = np.asarray(values, np.float64)
  averages_t = np.empty_like(values_t)
  v = np.zeros(values_t.shape[1:])
  for t, theta in enumerate(values_t, start=1):
    v = beta * v + (1.0 - beta) * theta
    averages_t[t - 1] = v / (1.0 - beta**t) if bias_correction else v
  return averages_t
