"""Mixed precision in the zoo: with dtype="bfloat16" every registered model keeps
its parameters and batch statistics in float32, runs every matrix product and
convolution on bfloat16 operands, and stays close to its float32 forward pass.
A mistyped dtype is a ConfigError naming the config key."""
from __future__ import annotations

import collections
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib import models
from nn_lib.models import catalog, layers
from nn_lib.registry import ConfigError

B = 2
BF16 = jnp.dtype(jnp.bfloat16)

# Tolerance on ||y_bf16 - y_f32|| / ||y_f32|| (eval mode, the same float32
# variables, the catalog's typical input). bfloat16 keeps 8 significant bits, so
# each rounding of an activation moves it by up to 2^-9 = 0.2% (and the output is
# rounded once more); the products accumulate in float32, and the norms, softmax
# and positional encodings run in float32, so the per-layer errors add up rather
# than compound. Measured on the CPU at this input: 2.2e-3 (mobilenet, polynomial)
# to 1.1e-2 (dcgan_discriminator, whose output is one logit per example); 3e-2
# leaves about 3x headroom for other backends' accumulation orders while still
# failing a model whose bf16 path diverges. Gradients (below): 6e-3 to 7e-3.
# Eval mode only: in train mode a deep batch-norm network at random initialisation
# is chaotic (mobilenet's float32 output moves 11% when its input is perturbed by
# 2^-9), so a bf16/f32 comparison there would measure the network, not the dtype.
REL_TOL = 3e-2

_MATMULS = ("dot_general", "conv_general_dilated")


def _matmul_operand_dtypes(fn: Callable, *args):
  """(primitive, lhs dtype, rhs dtype) -> count over `fn`'s jaxpr, nested ones
  (jit, scan, custom_jvp, cond) included; and `fn`'s output shapes and dtypes
  (the same single trace)."""
  counts: collections.Counter = collections.Counter()

  def walk(jaxpr) -> None:
    for eqn in jaxpr.eqns:
      if eqn.primitive.name in _MATMULS:
        counts[(eqn.primitive.name, *(str(v.aval.dtype) for v in eqn.invars[:2]))] += 1
      for param in eqn.params.values():
        for sub in param if isinstance(param, (list, tuple)) else [param]:
          if hasattr(sub, "eqns"):
            walk(sub)
          elif hasattr(getattr(sub, "jaxpr", None), "eqns"):  # a ClosedJaxpr
            walk(sub.jaxpr)

  closed, out_shapes = jax.make_jaxpr(fn, return_shape=True)(*args)
  walk(closed.jaxpr)
  return counts, out_shapes


def _dtypes(tree) -> set[jnp.dtype]:
  return {jnp.dtype(leaf.dtype) for leaf in jax.tree_util.tree_leaves(tree)}


@pytest.mark.parametrize("name", models.names())
def test_bfloat16_keeps_parameters_and_statistics_float32(name):
  entry = catalog.CATALOG[name]
  model = entry.build(dtype="bfloat16")
  x = entry.example_input(B, jax.random.key(1))
  key = jax.random.key(0)
  # Shapes only (nothing compiles): what `init` and a train-mode apply would give.
  variables = jax.eval_shape(
      lambda x: model.init({"params": key, "dropout": key}, x, train=False), x)
  assert _dtypes(variables) == {jnp.dtype(jnp.float32)}, name
  state = [c for c in variables if c != "params"]
  y_train, new_state = jax.eval_shape(
      lambda v, x: model.apply(v, x, train=True, rngs={"dropout": key}, mutable=state),
      variables, x)
  assert y_train.dtype == BF16
  if state:  # batch norm's running averages stay float32 under bf16 activations
    assert _dtypes(new_state) == {jnp.dtype(jnp.float32)}, name


@pytest.mark.parametrize("name", models.names())
def test_bfloat16_forward_is_bf16_and_close_to_float32(name, make_variables):
  entry = catalog.CATALOG[name]
  model_32, model_16 = entry.build(), entry.build(dtype="bfloat16")
  x = entry.example_input(B, jax.random.key(1))
  variables = make_variables(model_32, x, bias_scale=0.1)  # float32, shared by both

  def forward_16(v, x):
    return model_16.apply(v, x, train=False)

  # One trace of the bf16 forward pass (capturing the intermediates adds no
  # matrix products) gives both the jaxpr checked here and the outputs below.
  counts, (_, captured) = _matmul_operand_dtypes(
      lambda v, x: model_16.apply(v, x, train=False, capture_intermediates=True,
                                  mutable=["intermediates"]), variables, x)
  # Every matrix product and convolution takes bfloat16 operands: the activations
  # entering them are bf16, none is left in float32 by a stray promotion.
  assert counts, f"{name}: no matrix products found"
  assert all(lhs == rhs == "bfloat16" for _, lhs, rhs in counts), (name, dict(counts))
  # And every submodule's output is bf16, except the recurrent layers' hidden
  # states, which are carried in float32 on purpose (recurrent.F32CarrySimpleCell).
  outputs = jax.tree_util.tree_flatten_with_path(captured["intermediates"])[0]
  not_bf16 = [jax.tree_util.keystr(path) for path, y in outputs
              if y.dtype != BF16 and not str(path[0].key).startswith(("rnn", "birnn"))]
  assert len(outputs) > 1 and not not_bf16, (name, not_bf16)

  y_32, y_16 = jax.jit(lambda v, x: (model_32.apply(v, x, train=False), forward_16(v, x)))(
      variables, x)
  assert y_32.dtype == jnp.float32 and y_16.dtype == BF16
  y_32, y_16 = np.asarray(y_32, np.float64), np.asarray(y_16, np.float64)
  assert np.all(np.isfinite(y_16))
  rel = np.linalg.norm(y_16 - y_32) / np.linalg.norm(y_32)
  assert rel < REL_TOL, f"{name}: relative error {rel:.2e} >= {REL_TOL}"
  assert rel > 0  # really computed in bf16, not silently in float32


@pytest.mark.parametrize("name", ["mlp", "gru", "transformer_lm"])
def test_bfloat16_gradients_are_float32_and_close(name, make_variables):
  """What the training step differentiates: a float32 loss of the bf16 outputs.
  The gradients arrive in the parameters' float32, near the float32 ones."""
  entry = catalog.CATALOG[name]
  model_32, model_16 = entry.build(), entry.build(dtype="bfloat16")
  x = entry.example_input(B, jax.random.key(1))
  params = make_variables(model_32, x, bias_scale=0.1)["params"]

  def grads(model):
    loss = lambda p: jnp.mean(jnp.square(model.apply({"params": p}, x).astype(jnp.float32)))
    return jax.grad(loss)(params)

  g_32, g_16 = jax.jit(lambda: (grads(model_32), grads(model_16)))()
  assert _dtypes(g_16) == {jnp.dtype(jnp.float32)}
  flat_32, flat_16 = (np.concatenate([np.ravel(a) for a in jax.tree_util.tree_leaves(g)])
                      for g in (g_32, g_16))
  assert np.all(np.isfinite(flat_16))
  rel = np.linalg.norm(flat_16 - flat_32) / np.linalg.norm(flat_32)
  assert rel < REL_TOL, f"{name}: gradient relative error {rel:.2e}"


@pytest.mark.parametrize("key", ["dtype", "param_dtype"])
@pytest.mark.parametrize("value", ["bfloat61", "int32", jnp.int32, 3])
def test_bad_dtype_is_a_config_error_naming_the_key(key, value):
  with pytest.raises(ConfigError) as info:
    models.get("mlp", num_outputs=3, **{key: value})
  message = str(info.value)
  assert f"config.model.{key}={value!r}" in message and "model 'mlp'" in message
  assert "valid: bfloat16, float16, float32, float64" in message


@pytest.mark.parametrize("key", ["dtype", "param_dtype"])
def test_float64_needs_x64_mode(key):
  with pytest.raises(ConfigError, match=r"float64 needs JAX's 64-bit mode"):
    models.get("mlp", num_outputs=3, **{key: "float64"})
  with jax.enable_x64(True):
    model = models.get("mlp", num_outputs=3, **{key: "float64"})
    variables = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.ones((2, 4), jnp.float64))
    assert variables["params"]["Dense_0"]["kernel"].dtype == (
        jnp.float64 if key == "param_dtype" else jnp.float32)


def test_dtype_names_and_dtype_objects_agree():
  assert layers.as_dtype("bfloat16") == layers.as_dtype(jnp.bfloat16) == BF16
  assert layers.as_dtype(np.dtype("float32")) == jnp.float32
  x = jax.ShapeDtypeStruct((B, 5), jnp.float32)
  key = jax.random.key(0)
  for dtype in ("bfloat16", jnp.bfloat16):
    model = models.get("mlp", num_outputs=3, hidden=(4,), dtype=dtype)
    y = jax.eval_shape(lambda x: model.init_with_output(key, x)[0], x)
    assert y.dtype == BF16


def test_param_dtype_stores_parameters_in_that_dtype():
  model = models.get("mlp", num_outputs=3, hidden=(4,), batch_norm=True,
                     dtype="bfloat16", param_dtype="bfloat16")
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x),
                             jax.ShapeDtypeStruct((B, 5), jnp.float32))
  assert _dtypes(variables["params"]) == {BF16}
  assert _dtypes(variables["batch_stats"]) == {jnp.dtype(jnp.float32)}


def test_volume_render_accumulates_bf16_model_outputs_in_float32():
  rng = np.random.default_rng(0)
  sigma = rng.uniform(0, 5, (3, 16)).astype(np.float32)
  rgb = rng.uniform(0, 1, (3, 16, 3)).astype(np.float32)
  t = np.broadcast_to(np.linspace(2.0, 6.0, 16, dtype=np.float32), (3, 16))
  render = jax.jit(models.volume_render)  # one program per dtype, not op by op
  exact = render(sigma, rgb, t)
  mixed = render(jnp.asarray(sigma, jnp.bfloat16), jnp.asarray(rgb, jnp.bfloat16), t)
  assert all(a.dtype == jnp.float32 for a in mixed)
  # Only the inputs' rounding to bf16 (2^-9 relative) differs.
  np.testing.assert_allclose(mixed.rgb, exact.rgb, atol=1e-2)
  assert float(mixed.opacity.max()) <= 1.0
