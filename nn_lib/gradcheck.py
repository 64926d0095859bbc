"""Gradient checking (notes 004, "Gradient check for a neural network").

Flatten the parameters into one vector theta; compare the analytic gradient
d_theta = dJ/d_theta (jax.grad: the backward pass under test) with the two-sided
differences d_theta_approx[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
by the notes' relative error

  ||d_theta_approx - d_theta||_2 / (||d_theta_approx||_2 + ||d_theta||_2).

J is the training objective of `training.step`: the mean loss plus the config's
regularization (the notes: "remember regularization"). Everything runs in float64
(in float32 a difference over eps = 1e-7 is rounding noise). Dropout is switched
off (the notes: "does not work with dropout"); batch norm in train mode is
deterministic and is checked. Where J has a kink within eps (a ReLU input at
exactly 0, a max-pool tie: common at initialization, zero biases on zero pixels)
there is no derivative to approximate: such coordinates are found from J alone
(their one-sided differences disagree), excluded and counted.

  report = check_gradients(model, variables, loss_fn, batch, cfg_regularizer=reg)
  print(report); report.verdict   # "great" | "check" | "wrong"
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Mapping

import flax.errors
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

import losses
from nn_lib import data, models
from nn_lib.training.objective import LossFn, loss_from_config
from nn_lib.training.step import regularization

# The notes' bands (1e-7 great, 1e-5 so-so, 1e-3 worry) as exact thresholds:
GREAT_BELOW = 1e-7  # relative error < 1e-7: "great"; > 1e-3: "wrong"; else "check"
WRONG_ABOVE = 1e-3
VERDICTS = ("great", "check", "wrong")
DEFAULT_EPS = 1e-7
DEFAULT_MAX_PARAMS = 5000
# A kink: the one-sided differences (J(theta + eps e_i) - J(theta)) / eps and
# (J(theta) - J(theta - eps e_i)) / eps differ by the jump in slope, by more than
# KINK_GAP + KINK_REL (|forward| + |backward|) + 100 |J| 2^-52 / eps; on smooth J
# only by eps |J''| + rounding (the last term), measured <= 1e-7 on the zoo.
KINK_GAP, KINK_REL = 1e-6, 1e-4
_CHUNK_ELEMENTS = 1 << 20  # perturbed thetas held at once: 8 MiB of float64


class GradCheckError(ValueError):
  """The check cannot be run meaningfully (a stochastic model, a non-finite J)."""


def relative_error(approx: Any, exact: Any) -> float:
  """||approx - exact||_2 / (||approx||_2 + ||exact||_2) (notes 004); 0 when both
  are zero (a parameter J does not depend on), NaN when either is not finite."""
  approx, exact = np.asarray(approx, np.float64), np.asarray(exact, np.float64)
  denominator = np.linalg.norm(approx) + np.linalg.norm(exact)
  return float(np.linalg.norm(approx - exact) / denominator) if denominator else 0.0


def verdict_of(error: float) -> str:
  """ "great" if error < GREAT_BELOW, "wrong" if error > WRONG_ABOVE (or NaN),
  else "check"."""
  if not error <= WRONG_ABOVE:
    return "wrong"
  return "great" if error < GREAT_BELOW else "check"


@dataclasses.dataclass(frozen=True)
class LeafCheck:
  """One parameter array: its error over its checked coordinates."""

  path: str
  size: int
  sampled: int  # coordinates drawn
  kinks: int  # of those, excluded (J has a kink there)
  relative_error: float  # over the others; NaN when there are none
  max_abs_error: float  # max_i |d_theta_approx[i] - d_theta[i]|
  grad_norm: float  # ||d_theta||_2 over the checked coordinates

  @property
  def checked(self) -> int:
    return self.sampled - self.kinks

  @property
  def verdict(self) -> str:
    return verdict_of(self.relative_error) if self.checked else "unchecked"


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
  """`relative_error` over all checked coordinates; `leaves` worst first.

  `verdict` is the worst band of the overall error and of every leaf's: a wrong
  small leaf (the notes' "db may be far off, but dW may be just fine") barely
  moves the overall norm, so the components are judged too."""

  relative_error: float
  leaves: tuple[LeafCheck, ...]
  num_params: int
  num_sampled: int
  num_kinks: int
  eps: float
  objective: float  # J(theta): data loss + regularization, in float64
  notes: tuple[str, ...]  # what was changed to check (dropout off, float64, ...)
  seconds: float

  @property
  def num_checked(self) -> int:
    return self.num_sampled - self.num_kinks

  @property
  def rounding_floor(self) -> float:
    """|J| 2^-52 / eps: the size of float64 rounding in one difference quotient."""
    return abs(self.objective) * float(np.finfo(np.float64).eps) / self.eps

  @property
  def verdict(self) -> str:
    bands = [verdict_of(self.relative_error)]
    bands += [leaf.verdict for leaf in self.leaves if leaf.checked]
    return max(bands, key=VERDICTS.index)

  @property
  def passed(self) -> bool:
    return self.verdict != "wrong"

  def format(self) -> str:
    coverage = (
      "every parameter"
      if self.num_sampled == self.num_params
      else f"{self.num_sampled} of {self.num_params} parameters (random, seeded, "
      "shared equally among the arrays)"
    )
    if self.num_kinks:
      coverage += (
        f"; {self.num_kinks} at kinks of J excluded (one-sided "
        "differences disagree: ReLU at 0, max-pool ties)"
      )
    lines = [
      f"gradient check of J = mean loss + regularization in float64, "
      f"eps={self.eps:g}, {self.seconds:.1f} s",
      f"  checked: {coverage}",
      *(f"  note: {note}" for note in self.notes),
      f"  J = {self.objective:.10g}; float64 rounding in one difference: "
      f"|J| 2^-52 / eps = {self.rounding_floor:.1e}",
      f"relative error ||d_approx - d|| / (||d_approx|| + ||d||) = {self.relative_error:.3e}",
      f"verdict: {self.verdict.upper()} (worst of the overall and per-array "
      f"errors; great < {GREAT_BELOW:g} <= check <= {WRONG_ABOVE:g} < wrong)",
    ]
    if self.verdict != "great" and all(
      leaf.max_abs_error < 10 * self.rounding_floor for leaf in self.leaves if leaf.checked
    ):
      lines.append(
        "  every difference is within 10x that rounding: at this eps a wrong "
        "gradient cannot be told from rounding (a larger eps, 1e-5, can)"
      )
    width = max([len("parameter")] + [len(leaf.path) for leaf in self.leaves])
    lines += [
      "",
      f"{'parameter':<{width}}  {'checked':>13}  {'kinks':>5}  "
      f"{'rel. error':>10}  {'max |diff|':>10}  {'||d||':>10}  verdict",
    ]
    for leaf in self.leaves:
      lines.append(
        f"{leaf.path:<{width}}  {f'{leaf.checked}/{leaf.size}':>13}  "
        f"{leaf.kinks:>5}  {leaf.relative_error:>10.3e}  "
        f"{leaf.max_abs_error:>10.3e}  {leaf.grad_norm:>10.3e}  "
        f"{leaf.verdict}"
      )
    return "\n".join(lines)

  __str__ = format  # noqa: A003  (the method above, meant: str(report) is its table)


def _checkable(model: nn.Module, variables: Mapping[str, Any]) -> tuple[nn.Module, list[str]]:
  """The model as checked (dropout off, float64) and notes saying what changed."""
  changes: dict[str, Any] = {}
  notes = []
  rate = getattr(model, "dropout", None)
  rates = rate if isinstance(rate, (list, tuple)) else (rate,)
  if any(isinstance(r, (int, float)) and r > 0 for r in rates):
    changes["dropout"] = 0.0
    notes.append(f"dropout {rate} -> 0 while checking (notes: check without dropout)")
  for field in ("dtype", "param_dtype"):
    if hasattr(model, field):
      changes[field] = jnp.float64
  if "dtype" in changes:
    notes.append(f"model computes in float64 (dtype was {model.dtype})")
  if "batch_stats" in variables:
    notes.append(
      "batch norm in train mode (mini-batch statistics); the updated running averages are discarded"
    )
  return (model.clone(**changes) if changes else model), notes


def _to_float64(tree: Any) -> Any:
  """Floating leaves in float64; integer leaves (class labels) unchanged."""

  def cast(x):
    x = jnp.asarray(x)
    return x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x

  return jax.tree.map(cast, tree)


def _sample_coordinates(sizes: list[int], max_params: int | None, seed: int) -> np.ndarray:
  """Sorted indices into theta: all, or `max_params` drawn with `seed`, shared
  equally among the arrays (one smaller than its share is checked whole and
  leaves the rest to the others): a uniform draw would skip the small arrays,
  such as biases, where the notes' "db may be far off" bugs hide."""
  if max_params is not None and max_params < 1:
    raise GradCheckError(f"max_params must be >= 1 (or None for all), got {max_params}")
  if max_params is None or sum(sizes) <= max_params:
    return np.arange(sum(sizes))
  rng = np.random.default_rng(seed)
  offsets = np.cumsum([0] + sizes[:-1])
  budget, chosen = max_params, []
  for n, k in enumerate(np.argsort(sizes, kind="stable")):
    take = min(sizes[k], budget // (len(sizes) - n))
    budget -= take
    chosen.append(offsets[k] + rng.choice(sizes[k], take, replace=False))
  return np.sort(np.concatenate(chosen))


def check_gradients(
  model: nn.Module,
  variables: Mapping[str, Any],
  loss_fn: LossFn,
  batch: Mapping[str, Any],
  *,
  cfg_regularizer: Any = None,
  eps: float = DEFAULT_EPS,
  max_params: int | None = DEFAULT_MAX_PARAMS,
  seed: int = 0,
  chunk_size: int | None = None,
) -> GradCheckReport:
  """Checks jax.grad of J(theta) = reduce(loss_fn(model(x), y)) + R(theta) against
  the two-sided differences, in float64.

  model, variables: a Linen model and its {"params": ..., other collections}
    (batch statistics), as `model.init` returns them; any precision is cast up.
  loss_fn: (outputs, targets) -> per-example losses (`objective.loss_from_config`).
  batch: {"inputs": x_Bx..., "targets": y_B...}; a few examples suffice.
  cfg_regularizer: the config's `regularizer` (l2, l1, l2_lambda), added to J as in
    training (`training.step.regularization`).
  max_params: check at most this many coordinates, drawn with `seed` and shared
    equally among the arrays; None checks all. The report says how many.
  chunk_size: perturbed copies of theta evaluated at once (vmapped); default keeps
    them to ~8 MiB (measured: smaller chunks run faster on big models).
  Coordinates where J has a kink (the one-sided differences disagree, see
  KINK_GAP) are excluded and counted.
  Raises GradCheckError when the model still draws random numbers with dropout
  off (J is then not a function of theta alone), or when J is not finite.
  """
  start = time.perf_counter()
  with jax.enable_x64(True):
    model, notes = _checkable(model, variables)
    model_state = _to_float64(dict(variables))
    params = model_state.pop("params")
    inputs, targets = _to_float64(batch["inputs"]), _to_float64(batch["targets"])
    theta_N, unravel = ravel_pytree(params)
    num_params = int(theta_N.size)

    def objective(theta_N: jax.Array) -> jax.Array:
      params = unravel(theta_N)
      # No rngs: a model that still draws (dropout) fails here, and is refused.
      outputs, _ = model.apply(
        {"params": params, **model_state}, inputs, train=True, mutable=list(model_state)
      )
      # as the train step: l2_lambda's lambda / (2m) takes m = the batch size
      return losses.reduce(loss_fn(outputs, targets)) + regularization(
        params, cfg_regularizer, batch_size=inputs.shape[0]
      )

    try:
      jax.eval_shape(objective, theta_N)
    except flax.errors.InvalidRngError as e:
      raise GradCheckError(
        f"the model draws random numbers in train mode even with `dropout` = 0 "
        f"({e}): J is not a function of the parameters alone; switch that layer's "
        f"randomness off to check it (the notes: check without dropout)"
      ) from None

    j_value, grad_N = jax.jit(jax.value_and_grad(objective))(theta_N)
    if not np.isfinite(float(j_value)):
      raise GradCheckError(f"J(theta) = {float(j_value)} is not finite; nothing to check")

    sizes = [int(np.size(leaf)) for leaf in jax.tree.leaves(params)]
    index_C = _sample_coordinates(sizes, max_params, seed)
    chunk = chunk_size or max(1, min(512, _CHUNK_ELEMENTS // num_params))

    def evaluate(i: jax.Array) -> tuple[jax.Array, ...]:
      plus, minus = theta_N.at[i].add(eps), theta_N.at[i].add(-eps)
      # the steps actually taken: eps up to the rounding of theta_i +- eps
      return (objective(plus), objective(minus), plus[i] - theta_N[i], theta_N[i] - minus[i])

    numeric = jax.jit(lambda idx: jax.lax.map(evaluate, idx, batch_size=chunk))
    j_plus_C, j_minus_C, h_plus_C, h_minus_C = map(np.asarray, numeric(jnp.asarray(index_C)))
    approx_C = (j_plus_C - j_minus_C) / (h_plus_C + h_minus_C)
    forward_C = (j_plus_C - float(j_value)) / h_plus_C
    backward_C = (float(j_value) - j_minus_C) / h_minus_C
    rounding = abs(float(j_value)) * float(np.finfo(np.float64).eps) / eps
    kink_C = np.abs(forward_C - backward_C) > KINK_GAP + 100 * rounding + KINK_REL * (
      np.abs(forward_C) + np.abs(backward_C)
    )
    exact_C = np.asarray(grad_N)[index_C]
  if kink_C.all():
    raise GradCheckError(
      f"J has a kink within eps={eps:g} at every one of the {index_C.size} checked "
      "coordinates (ReLU inputs at exactly 0, max-pool ties); check at another "
      "point (another seed or inputs) or with a smooth activation"
    )

  leaves, offset = [], 0
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    size = int(np.size(leaf))  # ravel_pytree concatenates the leaves in this order
    in_leaf = (index_C >= offset) & (index_C < offset + size)
    kept = in_leaf & ~kink_C
    a, g = approx_C[kept], exact_C[kept]
    leaves.append(
      LeafCheck(
        path=jax.tree_util.keystr(path, simple=True, separator="/"),
        size=size,
        sampled=int(in_leaf.sum()),
        kinks=int((in_leaf & kink_C).sum()),
        relative_error=relative_error(a, g) if a.size else math.nan,
        max_abs_error=float(np.max(np.abs(a - g))) if a.size else math.nan,
        grad_norm=float(np.linalg.norm(g)),
      )
    )
    offset += size
  # worst first (a non-finite error counts as the worst); unchecked leaves last
  leaves.sort(key=lambda leaf: (leaf.checked == 0, -np.nan_to_num(leaf.relative_error, nan=np.inf)))
  return GradCheckReport(
    relative_error=relative_error(approx_C[~kink_C], exact_C[~kink_C]),
    leaves=tuple(leaves),
    num_params=num_params,
    num_sampled=int(index_C.size),
    num_kinks=int(kink_C.sum()),
    eps=eps,
    objective=float(j_value),
    notes=tuple(notes),
    seconds=time.perf_counter() - start,
  )


def check_config(
  cfg: Any,
  *,
  num_examples: int = 8,
  max_params: int | None = DEFAULT_MAX_PARAMS,
  eps: float = DEFAULT_EPS,
  seed: int | None = None,
  split: str = "train",
) -> GradCheckReport:
  """`check_gradients` on an experiment config: its model (initialized with
  `cfg.seed`), loss, regularizer, and the first `num_examples` rows of `split`.
  Only supervised configs (model + loss) are checkable this way."""
  if num_examples < 1:
    raise GradCheckError(f"num_examples must be >= 1, got {num_examples}")
  missing = [key for key in ("data", "model", "loss") if key not in cfg]
  if missing:
    raise GradCheckError(
      f"the config has no {', '.join(missing)}: only supervised "
      "experiments (data, model, loss) can be gradient-checked"
    )
  seed = cfg.get("seed", 0) if seed is None else seed
  rows = data.load(cfg.data)[split]
  batch = {k: np.asarray(rows[k][:num_examples]) for k in ("inputs", "targets")}
  model = models.get(**cfg.model)
  with jax.enable_x64(True):
    params_rng, dropout_rng = jax.random.split(jax.random.PRNGKey(seed))
    variables = _checkable(model, {})[0].init(
      {"params": params_rng, "dropout": dropout_rng}, _to_float64(batch["inputs"]), train=False
    )
  return check_gradients(
    model,
    variables,
    loss_from_config(cfg.loss),
    batch,
    cfg_regularizer=cfg.get("regularizer"),
    eps=eps,
    max_params=max_params,
    seed=seed,
  )
