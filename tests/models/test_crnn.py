"""crnn (notes 004 "CTC cost", "Bidirectional RNN"): one frame per group of columns,
parameters counted by hand, and the bidirectional LSTM lets every frame see the whole
strip while the conv trunk alone sees a few columns."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nn_lib import models
from nn_lib.models import crnn  # noqa: F401  (registers "crnn")
from nn_lib.models import layers
from nn_lib.models.catalog import random_variables

TINY = dict(widths=(2, 4), width_strides=(2, 2), hidden=4)


def test_frames_and_parameter_count_by_hand():
  model = models.get("crnn", **TINY)
  x = jax.ShapeDtypeStruct((1, 28, 168, 1), jnp.float32)
  shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), x), x)
  # 2x2 pixel blocks: 4 channels; convs 3x3: 4 -> 2 and 2 -> 4 channels (+ biases);
  # height 28 -> 14 (blocks) -> 7 -> 3, so a frame has 3 x 4 = 12 features; an LSTM
  # direction has 4 gates, each a 12 x 4 input kernel and a 4 x 4 recurrent kernel
  # with bias; head 2 x 4 -> 11
  convs = (9 * 4 * 2 + 2) + (9 * 2 * 4 + 4)
  lstm = 2 * 4 * (12 * 4 + 4 * 4 + 4)
  assert layers.count_params(shapes["params"]) == convs + lstm + (8 * 11 + 11) == 793
  assert model.frames(168) == 168 // (2 * 2 * 2) == 21
  y = jax.eval_shape(lambda v, x: model.apply(v, x), shapes, x)
  assert y.shape == (1, 21, 11)
  with pytest.raises(ValueError, match="one entry per stage"):
    jax.eval_shape(lambda x: models.get("crnn", widths=(2,), width_strides=(2, 2)).init(
        jax.random.key(0), x), x)
  with pytest.raises(ValueError, match="space_to_depth=3 must divide"):
    jax.eval_shape(lambda x: models.get("crnn", space_to_depth=3).init(
        jax.random.key(0), x), x)


def test_every_frame_sees_the_whole_strip_only_through_the_lstm():
  x = np.zeros((2, 28, 168, 1), np.float32)
  x[1, 8:20, 150:166] = 1.0                  # ink at the right end of strip 1 only
  outs = {}
  for layers_ in (1, 0):
    model = models.get("crnn", **TINY, num_layers=layers_)
    variables = random_variables(model, jnp.asarray(x[:1]), bias_scale=0.1)
    outs[layers_] = np.asarray(jax.jit(model.apply)(variables, jnp.asarray(x)))
  # frame 0 covers columns 0..7: the backward LSTM carries the right end to it
  # (faded by ~40 steps of random forget gates, but a difference: the rows are
  # computed alike, so without a dependence they are equal bit for bit, as below)
  assert np.abs(outs[1][0, 0] - outs[1][1, 0]).max() > 1e-6
  # without the LSTM frame 0's receptive field (~20 columns) ends far from column 150
  np.testing.assert_array_equal(outs[0][0, 0], outs[0][1, 0])
  assert np.abs(outs[0][0, -2] - outs[0][1, -2]).max() > 1e-4  # columns 152..159
