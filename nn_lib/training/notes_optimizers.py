"""Notes 004's optimizers ("Optimization algorithms") as optax transformations (the
same average for smoothing curves: `nn_lib.plots.smoothing.ewma`).

Each optimizer keeps exponentially weighted averages (EWAs, notes 004 "Exponentially
weighted moving averages") of the gradients, leaf by leaf:

    V_0 = 0,    V_t = beta * V_{t-1} + (1 - beta) * theta_t

V_t averages over roughly the last 1 / (1 - beta) values (`ewma_window`), and
starts low because V_0 = 0; "bias correction" divides by 1 - beta^t to undo that.

`notes_momentum`, `notes_rmsprop` and `notes_adam` take `learning_rate` first (a float
or an optax schedule of the step), so `optim.OPTIMIZERS` finds them like optax's own.
Their states are NamedTuples of a step count and EWAs shaped like the parameters. A
schedule is evaluated at the count before the update, as optax does: step 0 first.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from nn_lib.registry import ConfigError


# `count` as in optax's states; mypy takes a NamedTuple field named like tuple.count
# for an incompatible override, hence the ignores.
class NotesMomentumState(NamedTuple):
  count: jax.Array  # type: ignore[assignment]  # int32 []: updates done so far (t - 1 in update t)
  v: optax.Updates  # V_dW: EWA of the gradients, shaped like the params


class NotesRMSpropState(NamedTuple):
  count: jax.Array  # type: ignore[assignment]  # tuple.count, as above
  s: optax.Updates  # S_dW: EWA of the squared gradients


class NotesAdamState(NamedTuple):
  count: jax.Array  # type: ignore[assignment]  # tuple.count, as above
  v: optax.Updates
  s: optax.Updates


def _check(key: str, value: float, ok: bool, rule: str) -> None:
  """A bad hyperparameter is a config error naming `optimizer.<key>`."""
  if not ok:
    raise ConfigError(
      f"optimizer.{key}={value!r} {rule}; set --config.optimizer.{key} accordingly."
    )


def _check_beta(key: str, beta: float) -> None:
  # beta = 1 would never move the average off V_0 = 0.
  _check(key, beta, 0.0 <= beta < 1.0, "must be in [0, 1) (0.9 averages ~10 steps)")


def _check_eps(eps: float) -> None:
  _check("eps", eps, eps >= 0.0, "must be >= 0 (notes 004 use 1e-8)")


def _lr_at(learning_rate: optax.ScalarOrSchedule, count: jax.Array) -> jax.Array:
  return learning_rate(count) if callable(learning_rate) else learning_rate


def _ewa(avg: optax.Updates, new: optax.Updates, beta: float) -> optax.Updates:
  """V = beta * V + (1 - beta) * new, leaf by leaf."""
  return jax.tree.map(lambda a, x: beta * a + (1.0 - beta) * x, avg, new)


def _debias(avg: optax.Updates, beta: float, t: jax.Array) -> optax.Updates:
  """V / (1 - beta^t), in each leaf's dtype (x64 tests stay float64 throughout)."""
  return jax.tree.map(lambda a: a / (1.0 - beta**t).astype(a.dtype), avg)


def _descend(lr: jax.Array, steps: optax.Updates) -> optax.Updates:
  """The optax update -lr * step, kept in each leaf's dtype (a float32 lr from a
  schedule must not promote bfloat16 parameters)."""
  return jax.tree.map(lambda d: (-lr * d).astype(d.dtype), steps)


def _zeros_count() -> jax.Array:
  return jnp.zeros([], jnp.int32)


def notes_momentum(
  learning_rate: optax.ScalarOrSchedule, beta: float = 0.9, bias_correction: bool = False
) -> optax.GradientTransformation:
  """Gradient descent with momentum, notes 004 "Gradient descent with momentum":

      V_dW = beta * V_dW + (1 - beta) * dW,    W := W - alpha * V_dW

  and likewise for every other leaf. `bias_correction=True` steps along
  V_dW / (1 - beta^t) instead; it is off by default because, as the notes say, "in
  practice people don't bother" (V_dW is warm after ~1 / (1 - beta) steps).

  Unlike `optax.sgd(lr, momentum=beta)` (and PyTorch's SGD), which accumulate
  v = beta * v + dW without the (1 - beta) factor, the velocity here is an average
  of gradients, not a sum: `notes_momentum(lr, beta)` equals
  `optax.sgd(lr * (1 - beta), momentum=beta)`, so a learning rate tuned for one is
  1 / (1 - beta) = 10x off for the other at beta = 0.9.
  """
  _check_beta("beta", beta)

  def init(params: optax.Params) -> NotesMomentumState:
    return NotesMomentumState(_zeros_count(), optax.tree.zeros_like(params))

  def update(grads: optax.Updates, state: NotesMomentumState, params=None):
    del params
    v = _ewa(state.v, grads, beta)
    count = optax.safe_int32_increment(state.count)
    step = _debias(v, beta, count) if bias_correction else v
    updates = _descend(_lr_at(learning_rate, state.count), step)
    return updates, NotesMomentumState(count, v)

  return optax.GradientTransformation(init, update)


def notes_rmsprop(
  learning_rate: optax.ScalarOrSchedule,
  beta: float = 0.999,
  eps: float = 1e-8,
  bias_correction: bool = False,
) -> optax.GradientTransformation:
  """RMSprop, notes 004 "RMS prop" (dW^2 element-wise):

      S_dW = beta * S_dW + (1 - beta) * dW^2,    W := W - alpha * dW / sqrt(S_dW + eps)

  The notes' RMSprop has no epsilon; their Adam adds it inside the square root
  ("to avoid division by 0"), so it goes there here too. That is where
  `optax.rmsprop` puts it by default (`eps_in_sqrt=True`): `notes_rmsprop(lr, beta,
  eps)` equals `optax.rmsprop(lr, decay=beta, eps=eps)`. (The lecture and PyTorch
  write sqrt(S) + eps instead; the two differ only where sqrt(S) <~ sqrt(eps).)

  S_0 = 0 makes the first step dW / sqrt((1 - beta) dW^2): 1 / sqrt(1 - beta) ~ 32
  times alpha at beta = 0.999, shrinking over ~1 / (1 - beta) steps. The notes do
  not correct this; `bias_correction=True` divides S by 1 - beta^t, making the first
  step alpha * sign(dW).
  """
  _check_beta("beta", beta)
  _check_eps(eps)

  def init(params: optax.Params) -> NotesRMSpropState:
    return NotesRMSpropState(_zeros_count(), optax.tree.zeros_like(params))

  def update(grads: optax.Updates, state: NotesRMSpropState, params=None):
    del params
    s = _ewa(state.s, jax.tree.map(jnp.square, grads), beta)
    count = optax.safe_int32_increment(state.count)
    s_c = _debias(s, beta, count) if bias_correction else s
    step = jax.tree.map(lambda g, s_: g / jnp.sqrt(s_ + eps), grads, s_c)
    return _descend(_lr_at(learning_rate, state.count), step), NotesRMSpropState(count, s)

  return optax.GradientTransformation(init, update)


def notes_adam(
  learning_rate: optax.ScalarOrSchedule, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
  """Adam ("adaptive moment estimation"), notes 004 "Adam optimization": momentum's
  V and RMSprop's S, both bias-corrected, on iteration t = 1, 2, ...:

      V_dW = beta1 * V_dW + (1 - beta1) * dW,     V^c = V_dW / (1 - beta1^t)
      S_dW = beta2 * S_dW + (1 - beta2) * dW^2,   S^c = S_dW / (1 - beta2^t)
      W := W - alpha * V^c / sqrt(S^c + eps)

  The notes print the corrections as V / (1 - beta1)^t; that is a slip (it would
  grow without bound as t grows): the correction is 1 - beta^t, as in their "Bias
  correction" section, and that is what is implemented. Epsilon sits inside the
  square root as the notes write it, so this equals `optax.adam(lr, b1=beta1,
  b2=beta2, eps=0.0, eps_root=eps)`; `optax.adam`'s default puts eps outside
  (sqrt(S^c) + eps), which differs only where sqrt(S^c) <~ sqrt(eps). The notes'
  defaults: beta1 = 0.9, beta2 = 0.999, eps = 1e-8; alpha needs tuning.
  """
  _check_beta("beta1", beta1)
  _check_beta("beta2", beta2)
  _check_eps(eps)

  def init(params: optax.Params) -> NotesAdamState:
    zeros = optax.tree.zeros_like(params)
    return NotesAdamState(_zeros_count(), zeros, zeros)

  def update(grads: optax.Updates, state: NotesAdamState, params=None):
    del params
    v = _ewa(state.v, grads, beta1)
    s = _ewa(state.s, jax.tree.map(jnp.square, grads), beta2)
    count = optax.safe_int32_increment(state.count)
    v_c, s_c = _debias(v, beta1, count), _debias(s, beta2, count)
    step = jax.tree.map(lambda v_, s_: v_ / jnp.sqrt(s_ + eps), v_c, s_c)
    return _descend(_lr_at(learning_rate, state.count), step), NotesAdamState(count, v, s)

  return optax.GradientTransformation(init, update)
