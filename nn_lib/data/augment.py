"""Data augmentation on the device, inside the jitted train step (notes 004: mirroring,
random cropping, small distortions enlarge the training set with label-preserving
copies, a regularizer).

Every op is pure and jittable, `op(key, inputs, **config) -> inputs` of the same
shape and dtype, and draws its randomness per example (each image its own crop and
flip) from the `jax.random` key it is given. The config is a sequence of entries
applied in order, op i with key `jax.random.fold_in(key, i)`:

  ({"name": "random_crop", "padding": 4}, {"name": "horizontal_flip"},
   {"name": "mixup", "alpha": 0.2})

He et al. 2016's CIFAR-10 recipe is the first two entries. `mixup` mixes targets as
well as inputs, so `from_config` leaves it out and `mixup_from_config` reports its
alpha; it must come last (it mixes the batch that the other ops produced).
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

from nn_lib.registry import ConfigError, Registry

# (key, inputs, **config) -> augmented inputs
AugmentOp = Callable[..., jax.Array]
AUGMENTATIONS: Registry[AugmentOp] = Registry("augmentation")

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
IMAGE_OPS = frozenset({"random_crop", "horizontal_flip", "translate"})


@AUGMENTATIONS.register("random_crop")
def random_crop(
  key: jax.Array, images_BxHxWxC: jax.Array, padding: int, mode: str = "constant"
) -> jax.Array:
  """Pads H and W by `padding` on each side (`jnp.pad` mode, zeros by default) and
  crops each image back to H x W at its own offset (dy, dx), each uniform in
  {0, ..., 2 * padding}: out[b] = padded[b, dy:dy + H, dx:dx + W]. He et al. 2016
  (CIFAR-10): padding 4 with a horizontal flip."""
  B, H, W, C = images_BxHxWxC.shape
  p = padding
  padded_BxHpxWpxC = jnp.pad(images_BxHxWxC, ((0, 0), (p, p), (p, p), (0, 0)), mode=mode)
  offsets_Bx2 = jax.random.randint(key, (B, 2), 0, 2 * p + 1)
  crop = lambda image, yx: jax.lax.dynamic_slice(image, (yx[0], yx[1], 0), (H, W, C))
  return jax.vmap(crop)(padded_BxHpxWpxC, offsets_Bx2)


@AUGMENTATIONS.register("translate")
def translate(key: jax.Array, images_BxHxWxC: jax.Array, max_shift: int) -> jax.Array:
  """Shifts each image by its own integer (sy, sx), each uniform in
  [-max_shift, max_shift], filling the uncovered border with zeros (notes 004's small
  distortions). A crop of a zero-padded image is exactly such a shift, by
  max_shift - offset, so this is `random_crop` with padding = max_shift."""
  return random_crop(key, images_BxHxWxC, max_shift, mode="constant")


@AUGMENTATIONS.register("horizontal_flip")
def horizontal_flip(
  key: jax.Array, images_BxHxWxC: jax.Array, probability: float = 0.5
) -> jax.Array:
  """Mirrors each image left-right (x[b, :, ::-1]) with its own coin of the given
  probability (notes 004; He et al. 2016 flip with probability 0.5)."""
  flip_B = jax.random.bernoulli(key, probability, images_BxHxWxC.shape[:1])
  return jnp.where(flip_B[:, None, None, None], images_BxHxWxC[:, :, ::-1], images_BxHxWxC)


@AUGMENTATIONS.register("gaussian_noise")
def gaussian_noise(key: jax.Array, inputs: jax.Array, std: float) -> jax.Array:
  """x + std * N(0, 1), independent per entry, for inputs of any rank (images or
  B x D features); the result keeps the inputs' floating dtype."""
  if not jnp.issubdtype(inputs.dtype, jnp.floating):
    raise TypeError(f"gaussian_noise needs floating inputs, got {inputs.dtype}")
  # drawn in float32: bfloat16 normals are visibly coarse in the tails
  noise = std * jax.random.normal(key, inputs.shape, jnp.float32)
  return (inputs + noise).astype(inputs.dtype)


def mixup(
  key: jax.Array, inputs: jax.Array, alpha: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Zhang et al. 2018: lam ~ Beta(alpha, alpha), one per batch, and partner_B a
  random permutation of the batch; returns (lam * x + (1 - lam) * x[partner_B],
  partner_B, lam).

  Targets are not mixed here. The caller mixes the losses instead,
  lam * L(outputs, y) + (1 - lam) * L(outputs, y[partner_B]), which equals training
  on mixed targets for every loss linear in the target (cross-entropy with
  one-hot or soft targets) and stays defined for integer labels and all others.
  """
  lam_key, perm_key = jax.random.split(key)
  lam = jax.random.beta(lam_key, alpha, alpha)
  partner_B = jax.random.permutation(perm_key, inputs.shape[0])
  lam_x = lam.astype(inputs.dtype)
  return lam_x * inputs + (1 - lam_x) * inputs[partner_B], partner_B, lam


def _int_at_least_0(value: Any) -> str | None:
  ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 0
  return None if ok else "must be a non-negative integer (pixels)"


def _real(value: Any, low: float, high: float, low_open: bool = False) -> bool:
  return (
    isinstance(value, numbers.Real)
    and not isinstance(value, bool)
    and math.isfinite(value)
    and (float(value) > low if low_open else float(value) >= low)
    and float(value) <= high
  )


# config key -> None if the value is valid, else what it must be
_VALUE_CHECKS: dict[str, Callable[[Any], str | None]] = {
  "padding": _int_at_least_0,
  "max_shift": _int_at_least_0,
  "mode": lambda v: None if v in PAD_MODES else f"must be one of {', '.join(PAD_MODES)}",
  "probability": lambda v: None if _real(v, 0, 1) else "must be a number in [0, 1]",
  "std": lambda v: None if _real(v, 0, math.inf) else "must be a number >= 0",
  "alpha": lambda v: (
    None
    if _real(v, 0, math.inf, low_open=True)
    else "must be a number > 0 (0.2 in Zhang et al. 2018)"
  ),
}


def _config_keys(op: Callable) -> tuple[list[str], list[str]]:
  """(required, optional) config keys of an op: its arguments after (key, inputs)."""
  params = list(inspect.signature(op).parameters.values())[2:]
  return (
    [p.name for p in params if p.default is inspect.Parameter.empty],
    [p.name for p in params if p.default is not inspect.Parameter.empty],
  )


def _parse(cfg_augment: Any) -> list[tuple[str, dict[str, Any]]]:
  """Validates the whole config; returns its entries as (name, kwargs)."""
  if cfg_augment is None:
    return []
  if isinstance(cfg_augment, (str, bytes, Mapping)) or not isinstance(cfg_augment, Sequence):
    raise ConfigError(
      f"augment must be a sequence of entries like "
      f"({{'name': 'random_crop', 'padding': 4}},), got {cfg_augment!r}; "
      f"wrap a single entry in a tuple, or use () for none."
    )
  names = [*AUGMENTATIONS.names(), "mixup"]
  entries = []
  for i, entry in enumerate(cfg_augment):
    where = f"config.augment[{i}] {entry!r}"
    if not hasattr(entry, "items"):  # a dict, or a ConfigDict (not a Mapping)
      raise ConfigError(
        f"{where}: each entry must be a mapping like {{'name': 'horizontal_flip'}}."
      )
    kwargs = dict(entry.items())
    name = kwargs.pop("name", None)
    if name not in names:
      raise ConfigError(
        f"{where}: unknown or missing augmentation name {name!r}; set "
        f"'name' to one of: {', '.join(names)}."
      )
    required, optional = _config_keys(mixup if name == "mixup" else AUGMENTATIONS.get(name))
    unknown = sorted(set(kwargs) - set(required) - set(optional))
    missing = [k for k in required if k not in kwargs]
    if unknown or missing:
      raise ConfigError(
        f"{where}: {name!r} "
        + "; ".join(
          ([f"does not take {', '.join(unknown)}"] if unknown else [])
          + ([f"needs {', '.join(missing)}"] if missing else [])
        )
        + f". It takes {', '.join(required + optional) or 'no settings'}."
      )
    for k, v in kwargs.items():
      problem = _VALUE_CHECKS[k](v)
      if problem:
        raise ConfigError(f"{where}: {k} {problem}, got {v!r}.")
    if name == "mixup" and i != len(cfg_augment) - 1:
      raise ConfigError(
        f"{where}: mixup must be the last entry (it mixes the batch the "
        f"other augmentations produced); move it to the end."
      )
    entries.append((name, kwargs))
  return entries


def from_config(cfg_augment: Any) -> Callable[[jax.Array, jax.Array], jax.Array] | None:
  """augment(key, inputs) applying the config's input-only ops in order, op i with
  key `jax.random.fold_in(key, i)`; None when there are none. A mixup entry is not
  applied (see `mixup_from_config`); draw its key as fold_in(key, its index)."""
  ops = [
    (i, AUGMENTATIONS.get(name), kwargs)
    for i, (name, kwargs) in enumerate(_parse(cfg_augment))
    if name != "mixup"
  ]
  if not ops:
    return None

  def augment(key: jax.Array, inputs: jax.Array) -> jax.Array:
    for i, op, kwargs in ops:
      inputs = op(jax.random.fold_in(key, i), inputs, **kwargs)
    return inputs

  return augment


def mixup_from_config(cfg_augment: Any) -> float:
  """The alpha of the config's mixup entry; 0.0 (no mixup) when there is none."""
  return next((float(kw["alpha"]) for name, kw in _parse(cfg_augment) if name == "mixup"), 0.0)


def check_inputs(cfg_augment: Any, sample_inputs_shape: Sequence[int]) -> None:
  """Validates the config against the shape of a batch of inputs (B x ...), before
  anything compiles: crops, translations and flips need B x H x W x C images."""
  shape = tuple(sample_inputs_shape)
  for i, (name, _) in enumerate(_parse(cfg_augment)):
    if name in IMAGE_OPS and len(shape) != 4:
      raise ConfigError(
        f"config.augment[{i}] {name!r} needs B x H x W x C image inputs, but the "
        f"inputs have shape {shape}; remove it (gaussian_noise and mixup "
        f"work on inputs of any rank)."
      )
