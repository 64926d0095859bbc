"""Building blocks against notes 004: initializers, activations, convolution
arithmetic and the worked examples, batch norm and dropout modes."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nn_lib import models
from nn_lib.models import layers
from nn_lib.models.mobilenet import DepthwiseSeparableConv


# ---------------------------------------------------------------- initializers


def test_initializers_have_the_notes_variances():
  n_in, n_out = 400, 300
  key = jax.random.key(1)
  var = {name: float(np.var(np.asarray(layers.initializer(name)(key, (n_in, n_out)))))
         for name in ("he", "he_uniform", "xavier", "xavier_uniform", "lecun", "lecun_uniform")}
  expected = {"he": 2 / n_in, "he_uniform": 2 / n_in, "xavier": 2 / (n_in + n_out),
              "xavier_uniform": 2 / (n_in + n_out), "lecun": 1 / n_in, "lecun_uniform": 1 / n_in}
  for name, v in expected.items():
    assert var[name] == pytest.approx(v, rel=0.05), name
  zeros = layers.initializer("zeros")(key, (3, 4))
  np.testing.assert_array_equal(zeros, np.zeros((3, 4)))
  with pytest.raises(ValueError, match="unknown initializer"):
    layers.initializer("glorot_magic")


def test_activations_by_name():
  x = jnp.array([-2.0, 0.0, 3.0])
  np.testing.assert_allclose(layers.activation("relu")(x), [0, 0, 3])
  np.testing.assert_allclose(layers.activation("leaky_relu(0.2)")(x), [-0.4, 0, 3], rtol=1e-6)
  np.testing.assert_allclose(layers.activation("leaky_relu")(x), [-0.02, 0, 3], rtol=1e-6)
  np.testing.assert_allclose(layers.activation("sigmoid")(x), 1 / (1 + np.exp([2.0, 0.0, -3.0])),
                             rtol=1e-6)
  np.testing.assert_allclose(layers.activation("tanh")(x), np.tanh([-2.0, 0.0, 3.0]), rtol=1e-6)
  np.testing.assert_allclose(layers.activation("identity")(x), [-2, 0, 3])
  e = np.exp([-2.0, 0.0, 3.0])
  np.testing.assert_allclose(layers.activation("softmax")(x), e / e.sum(), rtol=1e-6)
  with pytest.raises(ValueError, match="unknown activation"):
    layers.activation("swishy")


# ---------------------------------------------------------- convolution basics


def _conv2d(image_HxW, kernel_FxF, stride=1, padding="VALID"):
  """A one-filter nn.Conv (no bias) with the given kernel applied to one image."""
  conv = nn.Conv(1, kernel_FxF.shape, (stride, stride), padding=padding, use_bias=False)
  params = {"params": {"kernel": jnp.asarray(kernel_FxF, jnp.float32)[:, :, None, None]}}
  x = jnp.asarray(image_HxW, jnp.float32)[None, :, :, None]
  return np.asarray(conv.apply(params, x))[0, :, :, 0]


VERTICAL = np.array([[1, 0, -1]] * 3)
HORIZONTAL = VERTICAL.T.copy()


def test_ten_3x3x3_filters_have_280_parameters():
  conv = nn.Conv(10, (3, 3))
  shapes = jax.eval_shape(conv.init, jax.random.key(0), jnp.zeros((1, 6, 6, 3)))
  assert layers.count_params(shapes) == 280  # (3*3*3 + 1 bias) * 10


def test_vertical_edge_detector_worked_examples():
  step = np.array([[10, 10, 10, 0, 0, 0]] * 6)
  np.testing.assert_array_equal(_conv2d(step, VERTICAL), [[0, 30, 30, 0]] * 4)
  # Dark-to-light transition: the sign flips.
  np.testing.assert_array_equal(_conv2d(step[:, ::-1], VERTICAL), [[0, -30, -30, 0]] * 4)
  # The notes' first example ("python: conv-forward").
  image = np.array([[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3],
                    [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8], [2, 4, 5, 2, 3, 9]])
  np.testing.assert_array_equal(
      _conv2d(image, VERTICAL),
      [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]])
  # Horizontal filter on the checkerboard (the notes print 6 columns; a valid
  # 3x3 convolution of a 6x6 image has 4).
  checker = np.array([[10, 10, 10, 0, 0, 0]] * 3 + [[0, 0, 0, 10, 10, 10]] * 3)
  np.testing.assert_array_equal(
      _conv2d(checker, HORIZONTAL),
      [[0, 0, 0, 0], [30, 10, -10, -30], [30, 10, -10, -30], [0, 0, 0, 0]])


def test_strided_convolution_worked_example():
  """7x7 * 3x3, stride 2 -> 3x3. The notes' steps give 91, 100, (83), 69. Their
  91 and 69 need the filter's middle row to be (1, 0, 2) (the printed "-1" is a
  transcription slip: with -1 the first output would be 79), and step 3 is an
  arithmetic slip: 6*3 + 2*4 + 9*4 + 7*1 + 4*0 + 3*2 + 8*(-1) + 9*0 + 7*3 = 88."""
  image = np.array([[2, 3, 7, 4, 6, 2, 9], [6, 6, 9, 8, 7, 4, 3], [3, 4, 8, 3, 8, 9, 7],
                    [7, 8, 3, 6, 6, 3, 4], [4, 2, 1, 8, 3, 4, 6], [3, 2, 4, 1, 9, 8, 3],
                    [0, 1, 3, 9, 2, 1, 4]])
  kernel = np.array([[3, 4, 4], [1, 0, 2], [-1, 0, 3]])
  out = _conv2d(image, kernel, stride=2)
  assert out.shape == (3, 3) == (layers.conv_output_size(7, 3, 0, 2),) * 2
  np.testing.assert_array_equal(out, [[91, 100, 88], [69, 91, 117], [44, 72, 74]])


def test_pooling_worked_examples():
  x = jnp.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]], jnp.float32)
  pooled = nn.max_pool(x[None, :, :, None], (2, 2), strides=(2, 2))[0, :, :, 0]
  np.testing.assert_array_equal(pooled, [[9, 2], [6, 3]])
  x5 = jnp.array([[1, 3, 2, 1, 3], [2, 9, 1, 1, 5], [1, 3, 2, 3, 2], [8, 3, 5, 1, 0],
                  [5, 6, 1, 2, 9]], jnp.float32)
  pooled = nn.max_pool(x5[None, :, :, None], (3, 3), strides=(1, 1))[0, :, :, 0]
  np.testing.assert_array_equal(pooled, [[9, 9, 5], [9, 9, 5], [8, 6, 9]])
  # Average pooling (the notes print 5.75 for the first window: (1+3+2+9)/4 = 3.75).
  xa = jnp.array([[1, 3, 2, 1], [2, 9, 1, 1], [1, 4, 2, 3], [5, 6, 1, 2]], jnp.float32)
  pooled = nn.avg_pool(xa[None, :, :, None], (2, 2), strides=(2, 2))[0, :, :, 0]
  np.testing.assert_allclose(pooled, [[3.75, 1.25], [4, 2]])


@pytest.mark.parametrize("n", [5, 6, 7, 28, 32])
def test_output_size_formula_valid_and_same(n):
  for f in (1, 3, 5):
    for s in (1, 2, 3):
      if f > n:
        continue
      for p, padding in ((0, "VALID"), ((f - 1) // 2, "SAME"), ((f - 1) // 2, (f - 1) // 2)):
        conv = nn.Conv(2, (f, f), (s, s), padding=padding)
        out = jax.eval_shape(lambda x: conv.init_with_output(jax.random.key(0), x)[0],
                             jnp.zeros((1, n, n, 1)))
        expected = layers.conv_output_size(n, f, p, s)
        assert out.shape[1:3] == (expected, expected), (n, f, s, padding)
  # Spot values of floor((n + 2p - f) / s) + 1.
  assert layers.conv_output_size(6, 3) == 4
  assert layers.conv_output_size(6, 3, p=1) == 6
  assert layers.conv_output_size(7, 3, s=2) == 3
  assert layers.conv_output_size(32, 5) == 28


def test_depthwise_separable_cost_ratio():
  # 6x6x3 input, 5 filters of 3x3: 4x4x5 output.
  assert layers.conv_cost(4, 3, 3, 5) == 2160
  assert layers.depthwise_separable_cost(4, 3, 3, 5) == 432 + 240
  for n_c, n_f, f, n_out in ((3, 5, 3, 4), (16, 32, 3, 8), (64, 128, 5, 14)):
    separable = layers.depthwise_separable_cost(n_out, f, n_c, n_f)
    assert separable / layers.conv_cost(n_out, f, n_c, n_f) == pytest.approx(1 / n_f + 1 / f**2)
  # The module's weights are exactly the f*f*n_c depthwise + n_c*n_f pointwise
  # multiplications per output position (plus BN's 2 * (n_c + n_f)).
  n_c, n_f, f = 16, 32, 3
  x = jnp.zeros((1, 8, 8, n_c))
  sep = jax.eval_shape(lambda x: DepthwiseSeparableConv(n_f, kernel_size=f).init(
      jax.random.key(0), x, False), x)["params"]
  assert sep["depthwise"]["kernel"].shape == (f, f, 1, n_c)
  assert sep["pointwise"]["kernel"].shape == (1, 1, n_c, n_f)
  weights = layers.count_params({k: v for k, v in sep.items() if not k.endswith("_bn")})
  standard = layers.count_params(
      jax.eval_shape(nn.Conv(n_f, (f, f), use_bias=False).init, jax.random.key(0), x))
  assert weights / standard == pytest.approx(1 / n_f + 1 / f**2)


def test_inception_bottleneck_cost():
  """28x28x192 -> 5x5 "same" conv to 32 channels costs 120M multiplications;
  through a 1x1 bottleneck of 16 channels it costs 12.4M."""
  direct = layers.conv_cost(28, 5, 192, 32)
  bottleneck = layers.conv_cost(28, 1, 192, 16) + layers.conv_cost(28, 5, 16, 32)
  assert direct == 120_422_400
  assert bottleneck == 2_408_448 + 10_035_200
  assert direct / bottleneck == pytest.approx(9.677, abs=1e-3)  # about ten times cheaper


# ------------------------------------------------------- batch norm and dropout


def _bn_mlp_reference(x, params, mean, var, eps=1e-5):
  """Dense (no bias) -> BN with the given statistics -> ReLU -> dense."""
  z = x @ params["Dense_0"]["kernel"]
  bn = params["BatchNorm_0"]
  z = (z - mean) / np.sqrt(var + eps) * bn["scale"] + bn["bias"]
  return np.maximum(z, 0) @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]


def test_batch_norm_eval_uses_running_statistics(make_variables):
  model = models.get("mlp", num_outputs=3, hidden=(5,), batch_norm=True)
  x = np.random.default_rng(0).normal(2.0, 3.0, (8, 4)).astype(np.float32)
  variables = make_variables(model, x, bias_scale=0.5)
  variables["params"]["BatchNorm_0"]["scale"] = np.linspace(0.5, 2.0, 5).astype(np.float32)
  mean = np.linspace(-1.0, 1.0, 5).astype(np.float32)
  var = np.linspace(0.5, 4.0, 5).astype(np.float32)
  variables["batch_stats"] = {"BatchNorm_0": {"mean": mean, "var": var}}
  params = jax.tree_util.tree_map(np.asarray, variables["params"])

  @jax.jit  # the three forward passes in one compiled program
  def forward(variables, x):
    return (model.apply(variables, x, train=False), model.apply(variables, x[:1], train=False),
            model.apply(variables, x, train=True, mutable=["batch_stats"]))

  y_eval, y_eval_one, (y_train, updates) = forward(variables, x)
  np.testing.assert_allclose(y_eval, _bn_mlp_reference(x, params, mean, var), rtol=1e-5, atol=1e-5)
  # Eval mode treats examples independently: one example alone gives the same.
  np.testing.assert_allclose(y_eval_one, y_eval[:1], rtol=1e-5, atol=1e-6)

  # Train mode normalises with the mini-batch's own (biased) mean and variance.
  z = x @ params["Dense_0"]["kernel"]
  np.testing.assert_allclose(y_train, _bn_mlp_reference(x, params, z.mean(0), z.var(0)),
                             rtol=1e-4, atol=1e-4)
  # ... and moves the running averages by the EWMA with momentum 0.9.
  new = updates["batch_stats"]["BatchNorm_0"]
  np.testing.assert_allclose(new["mean"], 0.9 * mean + 0.1 * z.mean(0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(new["var"], 0.9 * var + 0.1 * z.var(0), rtol=1e-4)


def test_batch_norm_statistics_change_only_in_train_mode(make_variables):
  model = models.get("mlp", num_outputs=2, hidden=(6,), batch_norm=True)
  rng = np.random.default_rng(1)
  x = rng.normal(1.0, 2.0, (16, 3)).astype(np.float32)
  y = rng.integers(0, 2, 16)
  variables = make_variables(model, x)
  params, stats = variables["params"], variables["batch_stats"]
  tx = optax.sgd(0.1)
  opt_state = tx.init(params)

  def loss_fn(params, stats):
    logits, updates = model.apply({"params": params, "batch_stats": stats}, x, train=True,
                                  mutable=["batch_stats"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, updates["batch_stats"]

  @jax.jit
  def step(params, stats, opt_state):
    (_, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), stats, opt_state

  history = [stats]
  for _ in range(3):
    params, stats, opt_state = step(params, stats, opt_state)
    history.append(stats)
  for before, after in zip(history, history[1:]):
    assert not np.allclose(before["BatchNorm_0"]["mean"], after["BatchNorm_0"]["mean"])
    assert not np.allclose(before["BatchNorm_0"]["var"], after["BatchNorm_0"]["var"])
  # Eval mode, even when allowed to mutate, returns the statistics untouched.
  _, eval_updates = jax.jit(lambda params, stats: model.apply(
      {"params": params, "batch_stats": stats}, x, train=False, mutable=["batch_stats"]))(
          params, stats)
  jax.tree_util.tree_map(np.testing.assert_array_equal, eval_updates["batch_stats"], stats)


def test_dropout_is_inverted_and_off_at_eval(make_variables):
  rate = 0.5
  model = models.get("mlp", num_outputs=2, hidden=(64,), activation="identity", dropout=rate)
  x = np.random.default_rng(2).normal(size=(3, 5)).astype(np.float32)
  variables = make_variables(model, x, bias_scale=0.3)
  p = jax.tree_util.tree_map(np.asarray, variables["params"])
  no_dropout = (x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]) @ p["Dense_1"]["kernel"] \
      + p["Dense_1"]["bias"]

  def run(key, train):
    return model.apply(variables, x, train=train, rngs={"dropout": key})

  keys = jax.random.split(jax.random.key(3), 4000)
  evals = np.asarray(jax.jit(jax.vmap(lambda k: run(k, False)))(keys[:4]))
  for y in evals:  # eval mode: deterministic, equal to the network without dropout
    np.testing.assert_allclose(y, no_dropout, rtol=1e-5, atol=1e-5)
  samples = np.asarray(jax.jit(jax.vmap(lambda k: run(k, True)))(keys))
  assert np.abs(samples[0] - samples[1]).max() > 1e-3  # train mode: random
  # Inverted dropout scales survivors by 1 / (1 - rate): the expectation is the
  # eval output (exactly, for this linear network).
  std_err = samples.std(axis=0) / np.sqrt(len(keys))
  assert np.all(np.abs(samples.mean(axis=0) - no_dropout) < 5 * std_err + 1e-6)
