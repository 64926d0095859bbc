"""Where each leaf of the train state lives on the (data, model) mesh.

One function of a leaf's path and shape gives its PartitionSpec, and it is applied
to every leaf of the state: optimizer moments ("opt_state/0/mu/Dense_0/kernel")
and EMA copies ("ema_params/Dense_0/kernel") end with their parameter's path and
have its shape, so they shard exactly like it without knowing optax's classes.

Modes:
  replicated  every leaf on every device (plain data parallelism).
  fsdp        leaves of at least `min_size` elements split over `data` on their
              largest dimension divisible by it (ZeRO-3 / FSDP: XLA all-gathers
              each parameter inside the jitted step where it is used).
  rules       (regex, spec) pairs: the first regex that `re.search`es a leaf's path
              gives its spec, one mesh axis name (or None, or a tuple of names) per
              dimension; no match: replicated. Model (tensor) parallelism. Leave
              regexes unanchored at the front (r"Dense_0/kernel$", not
              r"^params/Dense_0/kernel$") so that the moments follow the parameter.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

import jax
from jax.sharding import NamedSharding, PartitionSpec as P

from nn_lib.registry import ConfigError

MODES = ("replicated", "fsdp", "rules")
# Top-level keys that every device reads whole, and that are tiny.
ALWAYS_REPLICATED = ("step", "rng")

Spec = Sequence[Any]  # per dimension: None, an axis name or a tuple of them
Rule = tuple[str, Spec]
_Compiled = tuple[re.Pattern, tuple, Rule]


def leaf_path(key_path) -> str:
  """'opt_state/0/mu/Dense_0/kernel' for a jax key path."""
  return jax.tree_util.keystr(tuple(key_path), simple=True, separator="/")


def _axes(entry: Any) -> tuple[str, ...]:
  if entry is None:
    return ()
  return tuple(entry) if isinstance(entry, (tuple, list)) else (entry,)


def _compile(rules: Sequence[Rule]) -> list[_Compiled]:
  compiled = []
  for rule in rules:
    try:
      regex, spec = rule
      if isinstance(spec, str):  # tuple("model") would be ('m', 'o', ...)
        raise TypeError("the spec is a string, not one entry per dimension")
      # lists (from a config file) become the tuples PartitionSpec expects
      spec = tuple(tuple(e) if isinstance(e, list) else e for e in spec)
      compiled.append((re.compile(regex), spec, rule))
    except (TypeError, ValueError, re.error) as e:
      raise ConfigError(
        f"config.sharding.rules: rule {rule!r} must be (regex, spec), the spec a tuple with one "
        f"mesh axis name or None per dimension, e.g. (r'Dense_\\d+/kernel$', "
        f"(None, 'model')) ({e})"
      ) from e
  return compiled


def _fsdp_spec(shape: tuple[int, ...], data: int, min_size: int) -> tuple:
  if data == 1 or math.prod(shape) < min_size:
    return ()
  dims = [i for i, n in enumerate(shape) if n % data == 0]
  if not dims:
    return ()
  best = max(dims, key=lambda i: (shape[i], -i))  # the largest; ties: the first
  return tuple("data" if i == best else None for i in range(len(shape)))


def _check_rule(
  path: str, shape: tuple[int, ...], rule: Rule, spec: tuple, axis_sizes: dict[str, int]
) -> None:
  where = f"config.sharding.rules: rule {rule!r} matches {path} of shape {shape}"
  if len(spec) != len(shape):
    raise ConfigError(
      f"{where}, but the spec has {len(spec)} entries for its {len(shape)} "
      "dimensions: give one mesh axis name or None per dimension, or narrow the "
      "regex (rules apply first match first) so that it skips this leaf."
    )
  used = [a for entry in spec for a in _axes(entry)]
  for axis in used:
    if axis not in axis_sizes:
      raise ConfigError(
        f"{where}, but names the axis {axis!r}; the mesh has the axes {tuple(axis_sizes)}."
      )
  if len(set(used)) != len(used):
    raise ConfigError(
      f"{where}, but uses a mesh axis twice; each axis can split one dimension only."
    )
  for dim, (n, entry) in enumerate(zip(shape, spec)):
    ways = math.prod(axis_sizes[a] for a in _axes(entry))
    if n % ways:
      raise ConfigError(
        f"{where}, but dimension {dim} (size {n}) does not divide into the "
        f"{ways} parts of {entry!r}: shard a dimension it divides, choose another "
        "model_axis, or put None there."
      )


def leaf_spec(
  path: str,
  shape: tuple[int, ...],
  axis_sizes: dict[str, int],
  mode: str,
  rules: Sequence[_Compiled] = (),
  min_size: int = 2**14,
) -> P:
  """The PartitionSpec of one leaf; needs only the mesh's axis sizes."""
  if not shape or path.split("/")[0] in ALWAYS_REPLICATED:
    return P()
  if mode == "fsdp":
    return P(*_fsdp_spec(shape, axis_sizes["data"], min_size))
  for regex, spec, rule in rules:
    if regex.search(path):
      _check_rule(path, shape, rule, spec, axis_sizes)
      return P(*spec)
  return P()


def state_shardings(
  abstract_state: Any,
  mesh,
  *,
  mode: str = "replicated",
  rules: Sequence[Rule] = (),
  min_size: int = 2**14,
) -> Any:
  """A NamedSharding per leaf of the state (from `jax.eval_shape`), for jit's
  in/out_shardings. `mesh` may be a Mesh or an AbstractMesh."""
  if mode not in MODES:
    raise ConfigError(
      f"config.sharding.params={mode!r} is not a sharding mode; valid: {', '.join(MODES)}"
    )
  if bool(rules) != (mode == "rules"):
    raise ConfigError(
      f"config.sharding.params={mode!r} with {len(rules)} rule(s): rules are "
      "used by mode 'rules' only, and that mode needs at least one."
    )
  axis_sizes = dict(mesh.shape)
  compiled = _compile(rules)
  flat, treedef = jax.tree_util.tree_flatten_with_path(abstract_state)
  paths = [leaf_path(p) for p, _ in flat]
  for regex, _, rule in compiled:
    # a typo in a regex would otherwise replicate its parameters silently
    if not any(regex.search(p) for p in paths):
      examples = [p for p in paths if p.startswith("params/")][:6] or paths[:6]
      raise ConfigError(
        f"config.sharding.rules: rule {rule!r} matches no leaf of the state; its "
        f"paths look like {', '.join(examples)}"
      )
  specs: list[Any] = [None] * len(flat)
  # parameters first, so that a bad rule's error names the parameter, not a moment
  for i in sorted(range(len(flat)), key=lambda i: not paths[i].startswith("params/")):
    spec = leaf_spec(paths[i], tuple(flat[i][1].shape), axis_sizes, mode, compiled, min_size)
    specs[i] = NamedSharding(mesh, spec)
  return jax.tree_util.tree_unflatten(treedef, specs)


def _held(sharding: NamedSharding) -> float:
  """The fraction of a leaf that each device holds (our specs split evenly)."""
  sizes = dict(sharding.mesh.shape)
  return 1 / math.prod(sizes[a] for entry in sharding.spec for a in _axes(entry))


def _nbytes(x: Any) -> int:
  return math.prod(x.shape) * getattr(x.dtype, "itemsize", 4)


def describe(shardings: Any, abstract_state: Any) -> str:
  """The sharded parameters (path, shape, spec) and the share of the parameter and
  state bytes that each device holds, for the training log."""
  flat, treedef = jax.tree_util.tree_flatten_with_path(abstract_state)
  # jaxlib's PyTreeDef has no type stubs (mypy sees an unresolved "PyTreeDef?")
  by_leaf = treedef.flatten_up_to(shardings)  # type: ignore[attr-defined]
  leaves = [(leaf_path(p), x, s) for (p, x), s in zip(flat, by_leaf)]
  params = [leaf for leaf in leaves if leaf[0].startswith("params/")] or leaves
  lines = [
    f"  {path:<40} {str(tuple(x.shape)):<16} {s.spec}" for path, x, s in params if _held(s) < 1
  ]
  others = sum(_held(s) < 1 for _, _, s in leaves) - len(lines)
  if others:
    lines.append(f"  (and {others} more sharded leaves: optimizer state, EMA)")

  def share(group) -> tuple[float, int]:
    total = sum(_nbytes(x) for _, x, _ in group)
    return sum(_nbytes(x) * _held(s) for _, x, s in group) / max(total, 1), total

  (p_frac, p_total), (s_frac, _) = share(params), share(leaves)
  mesh = dict(leaves[0][2].mesh.shape) if leaves else {}
  head = f"sharded leaves on the mesh {mesh}:" if lines else "every leaf replicated"
  return "\n".join(
    [
      head,
      *lines,
      f"each device holds {p_frac:.1%} of the {p_total / 2**20:.2f} MiB "
      f"of parameters and {s_frac:.1%} of the train state",
    ]
  )


def per_device_fraction(params: Any) -> float:
  """Bytes of the (placed) arrays held by this process's first device / total bytes."""
  device = jax.local_devices()[0]
  held = total = 0
  for x in jax.tree.leaves(params):
    total += x.nbytes
    held += sum(s.data.nbytes for s in x.addressable_shards if s.device == device)
  return held / max(total, 1)
