"""Every registered model: lookup by name, output shapes in train and eval
modes, parameter counts against known figures, and docs/models.md in sync."""
from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib import models
from nn_lib.models import catalog, layers

# The issue's list: every name must be registered, and nothing else.
ISSUE_MODELS = {
    "linear", "polynomial", "mlp", "lenet5", "vgg", "resnet", "mobilenet", "inception_block",
    "mlp_autoencoder", "conv_autoencoder", "unet", "dcgan_generator", "dcgan_discriminator",
    "rnn", "gru", "lstm", "transformer_encoder", "transformer_lm", "nerf_mlp",
    "single_object_detector", "grid_detector", "embedding_net",
    "seq2seq_rnn", "seq2seq_transformer", "crnn",
}

B = 2
# Output shape for a batch of B at the catalog's typical input, and whether the
# model keeps batch-norm statistics.
EXPECTED: dict[str, tuple[tuple[int, ...], bool]] = {
    "linear": ((B, 10), False),
    "polynomial": ((B, 1), False),
    "mlp": ((B, 10), False),
    "lenet5": ((B, 10), False),
    "vgg": ((B, 10), False),
    "resnet": ((B, 10), True),
    "mobilenet": ((B, 10), True),
    "inception_block": ((B, 28, 28, 256), False),
    "mlp_autoencoder": ((B, 28, 28), False),
    "conv_autoencoder": ((B, 28, 28, 1), False),
    "unet": ((B, 64, 64, 2), True),
    "dcgan_generator": ((B, 28, 28, 1), True),
    "dcgan_discriminator": ((B, 1), True),
    "rnn": ((B, 32, 10), False),
    "gru": ((B, 32, 10), False),
    "lstm": ((B, 32, 10), False),
    "transformer_encoder": ((B, 64, 10), False),
    "transformer_lm": ((B, 64, 1000), False),
    "nerf_mlp": ((B, 4), False),
    "single_object_detector": ((B, 5), True),
    "grid_detector": ((B, 4, 4, 13), True),
    "embedding_net": ((B, 64), True),
    "seq2seq_rnn": ((B, 32, 1000), False),
    "seq2seq_transformer": ((B, 32, 1000), False),
    "crnn": ((B, 42, 11), False),
}


def test_registry_has_exactly_the_issue_models():
  assert set(models.names()) == ISSUE_MODELS
  assert set(catalog.CATALOG) == ISSUE_MODELS == set(EXPECTED)


def test_get_validates_names_and_hyperparameters():
  m = models.get("mlp", num_outputs=3, hidden=[7, 5])  # lists from a JSON config
  assert m.hidden == (7, 5) and isinstance(hash(m), int)  # hashable for jit/static args
  with pytest.raises(ValueError, match="unknown model"):
    models.get("resnet9000")
  with pytest.raises(ValueError, match="no hyperparameter"):
    models.get("mlp", num_outputs=3, init="he")  # `init` would shadow Module.init


@pytest.mark.parametrize("name", sorted(ISSUE_MODELS))
def test_output_shapes_in_train_and_eval(name, make_variables):
  entry = catalog.CATALOG[name]
  model = entry.build()
  x = entry.example_input(B, jax.random.key(1))
  variables = make_variables(model, x, bias_scale=0.1)
  shape, has_bn = EXPECTED[name]
  assert ("batch_stats" in variables) == has_bn
  state = [c for c in variables if c != "params"]

  @jax.jit
  def both(variables, x):
    y_train, new_state = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)},
                                     mutable=state)
    return y_train, new_state, model.apply(variables, x, train=False)

  # The checks below run in numpy on the concrete outputs (no eager XLA ops).
  y_train, new_state, y_eval = jax.tree_util.tree_map(np.asarray, both(variables, x))
  assert y_train.shape == shape and y_eval.shape == shape
  assert np.all(np.isfinite(y_train)) and np.all(np.isfinite(y_eval))
  assert float(np.std(y_eval)) > 0  # not a constant output
  if has_bn:  # train mode moved the running statistics; eval mode used them
    moved = jax.tree_util.tree_map(lambda a, b: float(np.abs(a - b).max()),
                                   variables["batch_stats"], new_state["batch_stats"])
    assert max(jax.tree_util.tree_leaves(moved)) > 0
    assert not np.allclose(y_train, y_eval)
  # Model-specific ranges.
  if name == "embedding_net":
    np.testing.assert_allclose(np.linalg.norm(y_eval, axis=-1), 1.0, rtol=1e-5)
  if name == "dcgan_generator":
    assert float(np.abs(y_eval).max()) < 1.0
  if name == "nerf_mlp":
    assert float(y_eval[:, 0].min()) >= 0.0  # density
    assert 0.0 < float(y_eval[:, 1:].min()) and float(y_eval[:, 1:].max()) < 1.0  # colour


def _count(name: str, x_shape, dtype=jnp.float32, **kwargs) -> int:
  model = models.get(name, **kwargs)
  key = jax.random.key(0)
  shapes = jax.eval_shape(lambda x: model.init({"params": key, "dropout": key}, x, train=False),
                          jax.ShapeDtypeStruct(x_shape, dtype))
  return layers.count_params(shapes["params"])


def test_parameter_counts_against_known_figures():
  # LeNet-5: "60k parameters" (notes 004); conv 6*(25+1), 16*(150+1), FCs.
  lenet = _count("lenet5", (1, 28, 28, 1))
  assert lenet == 156 + 2416 + 48120 + 10164 + 850 == 61_706
  assert abs(lenet - 60_000) / 60_000 < 0.05
  # CIFAR ResNet-20 (option A shortcuts): 0.27M.
  def conv_bn(f, cin, cout):
    return f * f * cin * cout + 2 * cout
  resnet20 = (conv_bn(3, 3, 16) + 6 * conv_bn(3, 16, 16)
              + conv_bn(3, 16, 32) + 5 * conv_bn(3, 32, 32)
              + conv_bn(3, 32, 64) + 5 * conv_bn(3, 64, 64) + 64 * 10 + 10)
  count = _count("resnet", (1, 32, 32, 3))
  assert count == resnet20 == 269_722
  assert abs(count - 270_000) / 270_000 < 0.01
  # ImageNet figures (1000 classes, 224x224): torchvision's ResNet-18 / ResNet-50,
  # MobileNet v1's 4.2M (Keras: 4,231,976 trainable), VGG-16's 138M.
  img = (1, 224, 224, 3)
  assert _count("resnet", img, num_outputs=1000, arch="resnet18") == 11_689_512
  assert _count("resnet", img, num_outputs=1000, arch="resnet50") == 25_557_032
  assert _count("mobilenet", img, num_outputs=1000, stem_stride=2) == 4_231_976
  assert _count("vgg", img, num_outputs=1000, widths=(64, 128, 256, 512, 512),
                convs_per_stage=(2, 2, 3, 3, 3), fc=(4096, 4096)) == 138_357_544


def test_mlp_depth_and_width():
  count = _count("mlp", (1, 10), num_outputs=3, depth=3, width=8)
  assert count == (10 * 8 + 8) + 2 * (8 * 8 + 8) + (8 * 3 + 3)
  # batch norm drops the dense bias and adds gamma, beta.
  assert _count("mlp", (1, 10), num_outputs=3, hidden=(8,), batch_norm=True) == \
      10 * 8 + 2 * 8 + 8 * 3 + 3


def test_docs_table_matches_computed_parameter_counts():
  docs = pathlib.Path(__file__).resolve().parents[2] / "docs" / "models.md"
  rows = {}
  for line in docs.read_text().splitlines():
    m = re.match(r"\|\s*`(\w+)`\s*\|.*\|\s*([\d,]+)\s*\|\s*$", line)
    if m:
      rows[m.group(1)] = int(m.group(2).replace(",", ""))
  assert set(rows) == ISSUE_MODELS
  for name, documented in rows.items():
    assert documented == catalog.param_count(name), name


def test_autoencoder_encode_decode(make_variables):
  x = jnp.asarray(np.random.default_rng(0).random((3, 28, 28, 1)), jnp.float32)
  for name in ("mlp_autoencoder", "conv_autoencoder"):
    model = models.get(name, latent_dim=5)
    variables = make_variables(model, x, bias_scale=0.1)

    @jax.jit  # one program per model instead of every layer's ops compiled eagerly
    def encode_decode_forward(variables, x, model=model):
      z = model.apply(variables, x, method="encode")
      x_hat = model.apply(variables, z, method="decode")
      return z, x_hat, model.apply(variables, x)

    z, x_hat, y = encode_decode_forward(variables, x)
    assert z.shape == (3, 5)
    assert x_hat.size == x.size
    np.testing.assert_allclose(y.reshape(-1), x_hat.reshape(-1), rtol=1e-5, atol=1e-5)


def test_size_validation_errors():
  with pytest.raises(ValueError, match="divisible"):
    _count("unet", (1, 36, 36, 1))
  with pytest.raises(ValueError, match="divisible"):
    _count("dcgan_generator", (1, 64), image_size=30)
  with pytest.raises(ValueError, match="expects"):
    _count("nerf_mlp", (1, 3))


def test_init_is_a_pure_function_of_the_key():
  model = models.get("mlp", num_outputs=3, hidden=(4,), batch_norm=True)
  x = jnp.ones((2, 5))
  init = jax.jit(lambda key: model.init({"params": key}, x, train=False))  # one compile
  v1 = init(jax.random.key(0))
  v2 = init(jax.random.key(0))
  v3 = init(jax.random.key(1))
  assert set(v1) == {"params", "batch_stats"}
  jax.tree_util.tree_map(np.testing.assert_array_equal, v1, v2)
  assert not np.allclose(v1["params"]["Dense_0"]["kernel"], v3["params"]["Dense_0"]["kernel"])
  np.testing.assert_array_equal(v1["batch_stats"]["BatchNorm_0"]["mean"], np.zeros(4))
  np.testing.assert_array_equal(v1["batch_stats"]["BatchNorm_0"]["var"], np.ones(4))
  # He initialisation: jax's truncated normal, cut at 2 standard deviations of
  # the underlying normal, whose std is sqrt(2 / fan_in) / 0.8796 (fan_in = 5).
  kernel = np.asarray(v1["params"]["Dense_0"]["kernel"])
  assert np.abs(kernel).max() <= 2 * np.sqrt(2 / 5) / 0.87962566 + 1e-6
  assert kernel.std() > 0.1


def test_mlp_dropout_and_batch_norm_per_layer():
  x = jnp.linspace(-1.0, 1.0, 20).reshape(4, 5)
  normed = models.get("mlp", num_outputs=3, hidden=(8, 6), batch_norm=(True, False))
  variables = jax.eval_shape(normed.init, jax.random.PRNGKey(0), x)  # structure only
  # batch norm replaces the bias of layer 0 only
  assert "bias" not in variables["params"]["Dense_0"]
  assert "bias" in variables["params"]["Dense_1"]
  assert list(variables["batch_stats"]) == ["BatchNorm_0"]

  def train_outputs(rates, params):
    model = models.get("mlp", num_outputs=3, hidden=(8, 6), dropout=rates)
    return model.apply(params, x, train=True, rngs={"dropout": jax.random.PRNGKey(1)})

  @jax.jit  # one program: the (same) parameters once, then the five forward passes
  def all_train_outputs():
    params = models.get("mlp", num_outputs=3, hidden=(8, 6)).init(jax.random.PRNGKey(0), x)
    return [train_outputs(r, params)
            for r in ((0.0, 0.0), (0.0, 0.5), (0.5, 0.0), 0.5, (0.5, 0.5))]
  none, second, first, half, half_per_layer = map(np.asarray, all_train_outputs())
  assert not np.allclose(none, second) and not np.allclose(none, first)
  assert not np.allclose(first, second)
  np.testing.assert_allclose(half, half_per_layer)
  with pytest.raises(ValueError, match=r"config.model.dropout lists 3 values for 2 hidden"):
    models.get("mlp", num_outputs=3, hidden=(8, 6), dropout=(0.1, 0.1, 0.1)).init(
        jax.random.PRNGKey(0), x)
