"""Building blocks by the notes' names (notes 004): initializers and activations
over jax.nn, batch norm / inverted dropout with train and eval modes, and the
convolution arithmetic (output size, multiplication counts), and the dtype names
of mixed precision."""

from __future__ import annotations

import math
from typing import Any, Callable, TypedDict

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.registry import ConfigError

Initializer = Callable[..., jax.Array]

# Xavier/Glorot keeps activation variance constant for tanh (variance 1/n_avg);
# He doubles it for ReLU (2/n_in); LeCun is 1/n_in. "zeros" is the notes'
# symmetry counter-example: every hidden unit then computes the same function.
INITIALIZERS: dict[str, Initializer] = {
  "xavier": jax.nn.initializers.glorot_normal(),
  "xavier_normal": jax.nn.initializers.glorot_normal(),
  "xavier_uniform": jax.nn.initializers.glorot_uniform(),
  "he": jax.nn.initializers.he_normal(),
  "he_normal": jax.nn.initializers.he_normal(),
  "he_uniform": jax.nn.initializers.he_uniform(),
  "lecun": jax.nn.initializers.lecun_normal(),
  "lecun_normal": jax.nn.initializers.lecun_normal(),
  "lecun_uniform": jax.nn.initializers.lecun_uniform(),
  "zeros": jax.nn.initializers.zeros,
  # The notes' first attempt, np.random.randn(shape) * 0.01.
  "normal": jax.nn.initializers.normal(0.01),
}


def initializer(name: str) -> Initializer:
  # A ConfigError (a ValueError) because the name comes from config.model.kernel_init:
  # train.py then prints it as one line instead of a traceback.
  if not isinstance(name, str) or name not in INITIALIZERS:
    raise ConfigError(f"unknown initializer {name!r}; valid: {', '.join(sorted(INITIALIZERS))}")
  return INITIALIZERS[name]


def _leaky_relu(alpha: float) -> Callable[[jax.Array], jax.Array]:
  return lambda x: jax.nn.leaky_relu(x, negative_slope=alpha)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
  "sigmoid": jax.nn.sigmoid,
  "tanh": jnp.tanh,
  "relu": jax.nn.relu,
  "leaky_relu": _leaky_relu(0.01),
  "gelu": jax.nn.gelu,
  "softplus": jax.nn.softplus,
  "softmax": jax.nn.softmax,
  "identity": lambda x: x,
}


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
  """`name` or `leaky_relu(alpha)`, e.g. "leaky_relu(0.2)".

  An unknown name is a ConfigError (a ValueError) listing the valid ones: the name
  comes from config.model.activation (or *_activation)."""
  valid = f"valid: {', '.join(sorted(ACTIVATIONS))} or leaky_relu(alpha)"
  if not isinstance(name, str):
    raise ConfigError(f"unknown activation {name!r} (not a name); {valid}")
  if name.startswith("leaky_relu(") and name.endswith(")"):
    try:
      alpha = float(name[len("leaky_relu(") : -1])
    except ValueError:
      raise ConfigError(
        f"unknown activation {name!r}: its alpha is not a number; {valid}, e.g. leaky_relu(0.2)"
      ) from None
    return _leaky_relu(alpha)
  if name not in ACTIVATIONS:
    raise ConfigError(f"unknown activation {name!r}; {valid}")
  return ACTIVATIONS[name]


# ----------------------------------------------------------------------------
# Mixed precision: every model takes `dtype` (activations and matrix products)
# and `param_dtype` (the stored parameters), as flax layers do.
# ----------------------------------------------------------------------------

# A name from the config ("bfloat16") or a dtype object (jnp.bfloat16). float64
# is left out: without jax_enable_x64 JAX silently narrows it to float32.
DtypeLike = Any
DTYPES: dict[str, jnp.dtype] = {
  "float32": jnp.dtype(jnp.float32),
  "bfloat16": jnp.dtype(jnp.bfloat16),
  "float16": jnp.dtype(jnp.float16),
  # only with JAX's x64 mode on (the gradient checker): without it JAX would
  # silently compute in float32
  "float64": jnp.dtype(jnp.float64),
}


def as_dtype(value: DtypeLike) -> jnp.dtype:
  """The dtype named by `value` (a DTYPES name or a dtype object). Anything else
  is a ConfigError listing the valid names: the value comes from
  config.model.dtype / config.model.param_dtype."""
  valid = f"valid: {', '.join(sorted(DTYPES))}"
  if isinstance(value, str):
    if value not in DTYPES:
      raise ConfigError(f"unknown dtype {value!r}; {valid}")
    resolved = DTYPES[value]
  else:
    try:
      resolved = jnp.dtype(value)
    except TypeError:
      raise ConfigError(f"unknown dtype {value!r} (not a dtype); {valid}") from None
    if resolved not in DTYPES.values():
      raise ConfigError(f"unsupported dtype {value!r}; {valid}")
  if resolved == jnp.float64 and not jax.config.read("jax_enable_x64"):
    raise ConfigError(
      "dtype float64 needs JAX's 64-bit mode (JAX_ENABLE_X64=1, or "
      "`with jax.enable_x64(True):`); without it JAX computes in float32"
    )
  return resolved


class PrecisionKwargs(TypedDict):
  """The keyword arguments `precision` returns: a TypedDict, not a dict[str, dtype],
  so that `**` into a flax layer is checked key by key."""

  dtype: jnp.dtype
  param_dtype: jnp.dtype


def precision(module: nn.Module) -> PrecisionKwargs:
  """`dtype=` and `param_dtype=` for a flax layer, from a module's fields of the
  same names: `nn.Dense(n, **layers.precision(self))`."""
  return {"dtype": as_dtype(module.dtype), "param_dtype": as_dtype(module.param_dtype)}


# ----------------------------------------------------------------------------
# Normalisation and regularisation with explicit train/eval modes (notes 004).
# ----------------------------------------------------------------------------

# Running statistics are the notes' exponentially weighted averages across
# mini-batches: mu_run <- m * mu_run + (1 - m) * mu_batch (same for sigma^2).
BN_MOMENTUM = 0.9


def batch_norm(train: bool, **kwargs) -> nn.BatchNorm:
  """flax BatchNorm in the notes' convention: z_norm = (z - mu) / sqrt(sigma^2 + eps),
  z~ = gamma * z_norm + beta. Train mode normalises with the mini-batch's mu,
  sigma^2 and updates the `batch_stats` collection; eval mode uses the running
  averages and leaves them untouched."""
  kwargs.setdefault("momentum", BN_MOMENTUM)
  return nn.BatchNorm(use_running_average=not train, **kwargs)


def dropout(rate: float, train: bool) -> nn.Module | Callable[[jax.Array], jax.Array]:
  """Inverted dropout (notes 004): keep each unit with probability 1 - rate and
  divide the survivors by 1 - rate, so eval mode is the identity. Draws from the
  `dropout` RNG stream."""
  if rate <= 0.0:
    return lambda x: x
  return nn.Dropout(rate, deterministic=not train)


# ----------------------------------------------------------------------------
# Convolution arithmetic (notes 004, "Padding", "Strided convolution", MobileNet).
# ----------------------------------------------------------------------------


def conv_output_size(n: int, f: int, p: int = 0, s: int = 1) -> int:
  """floor((n + 2p - f) / s) + 1: the output side of an n x n input convolved
  (or pooled) with an f x f window, padding p and stride s. "Valid" is p = 0,
  "same" is p = (f - 1) / 2 for odd f."""
  return (n + 2 * p - f) // s + 1


def conv_cost(n_out: int, f: int, n_c: int, n_filters: int) -> int:
  """Multiplications of a standard convolution: (#filter params f*f*n_c) x
  (#filter positions n_out^2) x (#filters)."""
  return f * f * n_c * n_out * n_out * n_filters


def depthwise_separable_cost(n_out: int, f: int, n_c: int, n_filters: int) -> int:
  """Depthwise (one f x f filter per input channel: f*f * n_out^2 * n_c) plus
  pointwise (n_filters 1x1xn_c filters: n_c * n_out^2 * n_filters). Divided by
  `conv_cost` this is 1/n_filters + 1/f^2 (the notes' 1/n_c' + 1/f^2)."""
  return f * f * n_out * n_out * n_c + n_c * n_out * n_out * n_filters


def count_params(tree) -> int:
  """Number of scalars in a pytree of arrays (or of jax.ShapeDtypeStruct)."""
  return int(sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(tree)))


def as_images(x: jax.Array) -> jax.Array:
  """B x H x W greyscale batches get a channel axis: B x H x W x 1."""
  return x[..., None] if x.ndim == 3 else x
