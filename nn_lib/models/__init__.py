"""The model zoo: `get(name, **kwargs)` builds a Flax Linen module from config.

Importing this package registers every model; `names()` lists them. Every model
is called as `model.apply(variables, x, train=...)` on one array whose first
axis is the batch; dropout draws from the "dropout" RNG stream and batch norm
keeps its running statistics in the "batch_stats" collection. See
docs/models.md for the catalogue.
"""

from nn_lib.models import (  # noqa: F401  (importing registers the models)
  autoencoder,
  cnn,
  crnn,
  detection,
  embedding,
  gan,
  mlp,
  mobilenet,
  nerf,
  polynomial,
  recurrent,
  resnet,
  seq2seq,
  seq2seq_transformer,
  transformer,
)
from nn_lib.models.layers import count_params
from nn_lib.models.nerf import Rendered, nerf_positional_encoding, volume_render
from nn_lib.models.registry import MODELS, get, names, register
from nn_lib.models.transformer import sinusoidal_positional_encoding

__all__ = [
  "MODELS",
  "get",
  "names",
  "register",
  "count_params",
  "volume_render",
  "Rendered",
  "nerf_positional_encoding",
  "sinusoidal_positional_encoding",
]
