"""nn_lib.gradcheck and launch/gradcheck.py: the notes' gradient check (notes 004)
passes a correct MLP in float64 and catches deliberately wrong backward passes."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import losses
from nn_lib import gradcheck, models
from tests.conftest import REPO, other_pythonpath


def _batch(num_examples: int = 6, dim: int = 5, classes: int = 3) -> dict[str, Any]:
  rng = np.random.default_rng(0)
  return {"inputs": rng.normal(size=(num_examples, dim)).astype(np.float32),
          "targets": rng.integers(0, classes, size=num_examples)}


def _cross_entropy(outputs_BxK: jax.Array, labels_B: jax.Array) -> jax.Array:
  return losses.softmax_cross_entropy_with_integer_labels(outputs_BxK, labels_B)


def test_relative_error_and_bands_on_hand_examples():
  # ||[3,4] - [3,0]|| / (||[3,4]|| + ||[3,0]||) = 4 / (5 + 3)
  assert gradcheck.relative_error([3.0, 4.0], [3.0, 0.0]) == 0.5
  # a gradient off by 10%: ||0.1 g|| / (||g|| + ||1.1 g||) = 1/21 for any g
  g = np.array([0.2, -1.0, 3.0])
  assert gradcheck.relative_error(g, 1.1 * g) == pytest.approx(1 / 21, rel=1e-12)
  assert gradcheck.relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0   # J ignores them
  assert np.isnan(gradcheck.relative_error([np.nan], [1.0]))
  errors = (9.9e-8, 1e-7, 1e-5, 1e-3, 1.01e-3, np.nan)
  assert [gradcheck.verdict_of(e) for e in errors] == [
      "great", "check", "check", "check", "wrong", "wrong"]


def test_mlp_with_batch_norm_and_dropout_passes_in_float64():
  model = models.get("mlp", num_outputs=3, hidden=(7, 6), batch_norm=True, dropout=0.3)
  batch = _batch()
  variables = model.init(jax.random.PRNGKey(0), batch["inputs"])   # float32, as trained
  assert "batch_stats" in variables
  reg = ml_collections.ConfigDict(dict(l2=0.05, l1=0.01, l2_lambda=0.3))
  report = gradcheck.check_gradients(model, variables, _cross_entropy, batch,
                                     cfg_regularizer=reg, max_params=None)
  # kernels 5x7, 7x6, 6x3, output bias 3, BN scale and bias 7 + 6 (no hidden biases)
  assert report.num_checked == report.num_params == 35 + 42 + 18 + 3 + 2 * 13
  assert report.relative_error < 1e-7, report
  assert all(leaf.relative_error < 1e-7 for leaf in report.leaves), report
  assert report.verdict == "great" and report.passed
  assert {leaf.path for leaf in report.leaves} >= {"BatchNorm_0/scale", "Dense_0/kernel"}
  text = str(report)
  assert "dropout 0.3 -> 0" in text and "batch norm in train mode" in text
  assert "verdict: GREAT" in text and "float64" in text
  # J = mean loss + (l2 + l2_lambda / 2m) sum W^2 + l1 sum |W| over the kernels
  # (biases and batch norm not penalized), m = 6 examples
  outputs, _ = model.clone(dropout=0.0).apply(variables, batch["inputs"], train=True,
                                              mutable=["batch_stats"])
  loss = float(np.mean(_cross_entropy(outputs, batch["targets"])))
  kernels = [np.float64(v["kernel"]) for k, v in variables["params"].items()
             if k.startswith("Dense")]
  penalty = sum((0.05 + 0.3 / 12) * np.sum(k**2) + 0.01 * np.sum(np.abs(k))
                for k in kernels)
  assert report.objective == pytest.approx(loss + penalty, rel=1e-6)


@jax.custom_vjp
def _buggy_cross_entropy(outputs_BxK, labels_B):
  return _cross_entropy(outputs_BxK, labels_B)


def _buggy_forward(outputs_BxK, labels_B):
  return _cross_entropy(outputs_BxK, labels_B), (outputs_BxK, labels_B)


def _buggy_backward(residuals, g_B):
  outputs_BxK, labels_B = residuals
  # softmax - one_hot is the right gradient; the bug scales it by 1.1
  d_BxK = jax.nn.softmax(outputs_BxK) - jax.nn.one_hot(labels_B, outputs_BxK.shape[-1])
  return 1.1 * g_B[:, None] * d_BxK, None


_buggy_cross_entropy.defvjp(_buggy_forward, _buggy_backward)


def test_a_loss_with_a_wrong_custom_vjp_is_wrong_everywhere():
  model = models.get("mlp", num_outputs=3, hidden=(6,))
  batch = _batch()
  variables = model.init(jax.random.PRNGKey(1), batch["inputs"])
  report = gradcheck.check_gradients(model, variables, _buggy_cross_entropy, batch)
  # every analytic component is 1.1 x the true one: error 0.1 / 2.1 = 1/21
  assert report.relative_error == pytest.approx(1 / 21, rel=1e-5)
  assert report.verdict == "wrong" and not report.passed
  assert all(leaf.verdict == "wrong" for leaf in report.leaves)
  assert "verdict: WRONG" in str(report)


class _SignFlippedBias(nn.Module):
  """x W + b with a custom backward pass whose d_b has the wrong sign."""
  features: int

  @nn.compact
  def __call__(self, x_BxD, *, train=False):
    del train
    w_DxF = self.param("kernel", nn.initializers.lecun_normal(),
                       (x_BxD.shape[-1], self.features))
    b_F = self.param("bias", nn.initializers.normal(1.0), (self.features,))

    @jax.custom_vjp
    def dense(x_BxD, w_DxF, b_F):
      return x_BxD @ w_DxF + b_F

    def forward(x_BxD, w_DxF, b_F):
      return dense(x_BxD, w_DxF, b_F), (x_BxD, w_DxF)

    def backward(residuals, g_BxF):
      x_BxD, w_DxF = residuals
      return g_BxF @ w_DxF.T, x_BxD.T @ g_BxF, -g_BxF.sum(0)   # should be +

    dense.defvjp(forward, backward)
    return nn.Dense(3)(jnp.tanh(dense(x_BxD, w_DxF, b_F)))


def test_a_wrong_leaf_is_named_first_even_when_sampled():
  model = _SignFlippedBias(features=4)
  batch = _batch()
  variables = model.init(jax.random.PRNGKey(2), batch["inputs"])
  # 20 + 4 + 12 + 3 = 39 parameters; 16 sampled still reach the 4-entry bias
  report = gradcheck.check_gradients(model, variables, _cross_entropy, batch,
                                     max_params=16, seed=3)
  assert report.num_params == 39 and report.num_checked <= 16
  worst = report.leaves[0]
  assert worst.path == "bias" and worst.checked > 0
  assert worst.relative_error == pytest.approx(1.0, rel=1e-6)   # ||2 db|| / (2 ||db||)
  assert report.verdict == "wrong"
  assert all(leaf.relative_error < 1e-7 for leaf in report.leaves[1:]), report
  lines = str(report).splitlines()
  header = next(i for i, line in enumerate(lines) if line.startswith("parameter"))
  assert lines[header + 1].startswith("bias ")


def test_kinks_of_relu_at_zero_are_excluded_and_counted():
  # zero inputs and zero initial biases put every hidden pre-activation of those
  # rows at exactly 0, ReLU's kink: a bias step of +-eps moves J by a different
  # slope on each side, and the two-sided difference is no derivative there
  model = models.get("mlp", num_outputs=3, hidden=(5,), activation="relu")
  batch = _batch()
  batch["inputs"][:3] = 0.0
  variables = model.init(jax.random.PRNGKey(0), batch["inputs"])
  report = gradcheck.check_gradients(model, variables, _cross_entropy, batch)
  by_path = {leaf.path: leaf for leaf in report.leaves}
  bias = by_path["Dense_0/bias"]
  assert bias.kinks == 5 and bias.verdict == "unchecked"
  assert report.num_kinks == 5 and report.num_checked == report.num_params - 5
  assert report.verdict == "great", report
  assert "5 at kinks of J excluded" in str(report)


class _Noisy(nn.Module):
  """Dropout under another name: the checker cannot switch it off."""
  noise: float = 0.5

  @nn.compact
  def __call__(self, x_BxD, *, train=False):
    return nn.Dense(3)(nn.Dropout(self.noise, deterministic=not train)(x_BxD))


def test_a_model_that_still_draws_random_numbers_is_refused():
  batch = _batch()
  variables = _Noisy().init(jax.random.PRNGKey(0), batch["inputs"])
  with pytest.raises(gradcheck.GradCheckError, match="random numbers.*dropout"):
    gradcheck.check_gradients(_Noisy(), variables, _cross_entropy, batch)


@pytest.mark.slow
def test_the_command_checks_digits_mlp_smoke(embedded_dir):
  # Not via PYTHONPATH: the script itself must find the repository's packages.
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(other_pythonpath())}
  env["NN_LIB_DATA_DIR"] = str(embedded_dir)
  proc = subprocess.run(
      [sys.executable, "launch/gradcheck.py", "--experiment=digits_mlp:smoke",
       "--num_examples=4", "--max_params=200", "--config.regularizer.l2=1e-3"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = proc.stdout
  assert "200 of 85002 parameters" in out and "dropout 0.1 -> 0" in out
  error = float(re.search(r"\(\|\|d_approx\|\| \+ \|\|d\|\|\) = (\S+)", out).group(1))
  assert error < 1e-7 and "verdict: GREAT" in out
  assert out.index("Dense_") < out.index("Dense_2/bias")   # a row for every leaf
