"""Weight regularizers over parameter pytrees (notes 001/002 "Regularization":
L2 ``sum W^2``, L1 ``sum |W|``, elastic net ``sum beta W^2 + |W|``, max norm
``||w_j|| <= c``; note 004 L2/L1).

``mask`` selects leaves (e.g. to skip biases): None (all leaves), a pytree of
Python bools with the structure of ``params``, or a callable
``params -> such a pytree``. The mask is static (resolved before tracing).
The penalties return a scalar; multiply by your lambda and add to the loss.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from losses import _common as C


def _selected(params, mask, fn):
  leaves, treedef = jax.tree_util.tree_flatten(params)
  if mask is None:
    return leaves
  if callable(mask):
    mask = mask(params)
  try:
    flags = treedef.flatten_up_to(mask)
  except (ValueError, TypeError) as e:
    raise ValueError(
      f"{fn}: mask structure {jax.tree_util.tree_structure(mask)}"
      f" does not match params structure {treedef}."
    ) from e
  return [x for x, m in zip(leaves, flags) if m]


def _check(leaves, fn):
  for x in leaves:
    if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
      raise ValueError(
        f"{fn}: parameters must be floating point, got a leaf "
        f"of dtype {jnp.result_type(x)} and shape "
        f"{jnp.shape(x)}."
      )


def _total(values):
  if not values:
    return jnp.zeros((), jnp.float32)
  return sum(values[1:], values[0])


# Hand-derived derivatives as custom JVPs: d sum(x^2) = sum(2 x dx) and
# d sum|x| = sum(sign(x) dx) (the subgradient 0 at x = 0).
@jax.custom_jvp
def _sumsq(x):
  return jnp.sum(x * x)


def _sumsq_jvp(primals, tangents):
  (x,), (tx,) = primals, tangents
  v = _sumsq(x)
  return v, C.tangent_sum(v, [jnp.sum(2.0 * x * tx) if C.has_tangent(tx) else None])


_sumsq.defjvp(_sumsq_jvp, symbolic_zeros=True)


@jax.custom_jvp
def _sumabs(x):
  return jnp.sum(jnp.abs(x))


def _sumabs_jvp(primals, tangents):
  (x,), (tx,) = primals, tangents
  v = _sumabs(x)
  return v, C.tangent_sum(v, [jnp.sum(jnp.sign(x) * tx) if C.has_tangent(tx) else None])


_sumabs.defjvp(_sumabs_jvp, symbolic_zeros=True)


@jax.jit
def _l2(leaves):
  return _total([_sumsq(x) for x in leaves])


@jax.jit
def _l1(leaves):
  return _total([_sumabs(x) for x in leaves])


@jax.jit
def _elastic(leaves, beta):
  beta = jax.lax.stop_gradient(beta)
  return _total([beta * _sumsq(x) + _sumabs(x) for x in leaves])


def l2_penalty(params: Any, *, mask: Any = None) -> jax.Array:
  """``R(W) = sum_{k,l} W_kl^2`` over the selected leaves (notes 001, 002).
  Gradient ``2 W``. (No 1/2 factor, as in the notes.)"""
  leaves = _selected(params, mask, "l2_penalty")
  _check(leaves, "l2_penalty")
  return _l2(leaves)


def l1_penalty(params: Any, *, mask: Any = None) -> jax.Array:
  """``R(W) = sum_{k,l} |W_kl|`` over the selected leaves (notes 001, 002).
  Gradient ``sign(W)`` (the subgradient 0 at W = 0)."""
  leaves = _selected(params, mask, "l1_penalty")
  _check(leaves, "l1_penalty")
  return _l1(leaves)


def elastic_net(params: Any, *, beta: ArrayLike = 1.0, mask: Any = None) -> jax.Array:
  """``R(W) = sum beta W^2 + |W|`` (notes 001, 002). Gradient
  ``2 beta W + sign(W)``. ``beta`` is traced (no recompiles)."""
  leaves = _selected(params, mask, "elastic_net")
  _check(leaves, "elastic_net")
  return _elastic(leaves, beta)


# --- max norm as an optax-compatible projection --------------------------------
class MaxNormState(NamedTuple):
  """Empty state (max norm is stateless), like ``optax.EmptyState``."""


def _default_mask(params):
  return jax.tree_util.tree_map(lambda x: jnp.ndim(x) >= 2, params)


@jax.jit
def _project(leaves, c):
  out = []
  for w in leaves:
    axes = tuple(range(w.ndim - 1))  # every axis but the output-unit axis
    norm = jnp.sqrt(jnp.sum(jnp.square(w), axis=axes, keepdims=True))
    scale = jnp.minimum(1.0, c / jnp.where(norm > 0, norm, 1.0))
    out.append(w * scale.astype(w.dtype))
  return out


def max_norm_project(params: Any, c: float, *, mask: Any = None) -> Any:
  """Rescales each selected weight so that every output unit's incoming
  weight vector (all axes but the last: ``W[:, j]`` of a Dense kernel,
  ``W[..., j]`` of a conv kernel) has L2 norm <= c (notes 001/002 max norm).
  Default mask: leaves with ndim >= 2 (biases untouched)."""
  leaves, treedef = jax.tree_util.tree_flatten(params)
  mask = _default_mask if mask is None else mask
  # (PyTreeDef.flatten_up_to exists at run time; jaxlib's stubs do not declare it)
  flags = treedef.flatten_up_to(  # type: ignore[attr-defined]
    mask(params) if callable(mask) else mask
  )
  chosen = [x for x, m in zip(leaves, flags) if m]
  projected = iter(_project(chosen, c))
  new = [next(projected) if m else x for x, m in zip(leaves, flags)]
  return jax.tree_util.tree_unflatten(treedef, new)


class MaxNorm(NamedTuple):
  """A GradientTransformation-shaped pair ``(init, update)`` (optax protocol;
  usable in ``optax.chain`` after the optimizer) built without optax."""

  init: Callable[[Any], MaxNormState]
  update: Callable[..., Any]


def max_norm(c: float, *, mask: Any = None) -> MaxNorm:
  """Max-norm constraint as a projection step: ``update(updates, state,
  params)`` returns updates such that ``params + updates`` satisfies
  ``||w_j||_2 <= c`` for every unit j (see ``max_norm_project``). Put it last
  in ``optax.chain(optimizer, losses.max_norm(c))``; ``params`` is required.
  """

  def init(params):
    del params
    return MaxNormState()

  def update(updates, state, params=None, **extra_args):
    del extra_args
    if params is None:
      raise ValueError("max_norm: update needs params (the projection acts on params + updates).")
    p_leaves, treedef = jax.tree_util.tree_flatten(params)
    u_leaves = treedef.flatten_up_to(updates)
    m = _default_mask if mask is None else mask
    flags = treedef.flatten_up_to(m(params) if callable(m) else m)
    chosen = [p + u for p, u, f in zip(p_leaves, u_leaves, flags) if f]
    projected = iter(_project(chosen, c))
    out = [
      (next(projected) - p).astype(jnp.result_type(u)) if f else u
      for p, u, f in zip(p_leaves, u_leaves, flags)
    ]
    return jax.tree_util.tree_unflatten(treedef, out), state

  return MaxNorm(init, update)
