"""A convolutional recurrent network for reading a line of symbols (notes 004 "CTC cost
for speech recognition", "Bidirectional RNN"; Shi et al. 2015's CRNN): a conv trunk
turns the image into one feature vector per group of columns, a bidirectional LSTM
reads those vectors left to right and right to left, and a dense head gives per
frame logits over the symbols and the CTC "blank".

  x_BxHxWxC -> each s x s block of pixels as s^2 C channels        B x H/s x W/s x s^2 C
            -> stages of [3x3 conv -> ReLU -> max pool (2, p_i)]    B x H' x T x C'
            -> the H' rows of each column stacked into its features  B x T x (H' C')
            -> num_layers x BiLSTM, [a-><t>, a<-<t>] per frame       B x T x 2 hidden
            -> dense                                                  B x T x num_outputs

The first step (space to depth, s = `space_to_depth`) is a reshape, no parameters:
a 3x3 conv after it sees 3s x 3s pixels at stride s. It is there for speed: a
3x3 conv on the full-resolution single-channel strip is the slowest layer of the
net on a CPU (XLA's convolutions vectorise over channels; measured: its gradient
costs 4x that of the same layer on the 2 x 2 blocks with 4 channels). Every pool
halves the height (28 -> 14 -> 7 -> 3) and divides the width by the stage's
`width_strides` entry, so a frame is s prod(width_strides) columns wide:
T = W // (s prod(width_strides)) (168 // 4 = 42 for the digit strips with s = 2,
width_strides (2, 1)). Height is pooled away but not averaged: the last H' rows
become features of their frame, so a frame still knows whether its ink is high or
low.

Output indices are the caller's: with the digit strips (nn_lib.data.digit_strips)
the trainers/ctc.py convention is 0..9 = the digits and 10 = the blank (the strips'
padding label PAD = 10, never a real symbol), so num_outputs = 11.
"""

from __future__ import annotations

from typing import Sequence, cast

import flax.linen as nn
import jax

from nn_lib.models import layers
from nn_lib.models.registry import register


@register("crnn")
class CRNN(nn.Module):
  """Conv trunk (width kept, height pooled) -> bidirectional LSTM over columns ->
  per-frame logits (module docstring). Input B x H x W [x C]; output B x T x
  num_outputs with T = W // prod(width_strides)."""

  num_outputs: int = 11
  widths: Sequence[int] = (16, 32)
  width_strides: Sequence[int] = (2, 1)
  space_to_depth: int = 2
  hidden: int = 64
  num_layers: int = 1
  dropout: float = 0.0
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def frames(self, width: int) -> int:
    """T: the number of frames (logit rows) for an input `width` columns wide."""
    t = width // self.space_to_depth
    for s in self.width_strides:
      t //= s
    return t

  @nn.compact
  def __call__(self, x_BxHxWxC: jax.Array, *, train: bool = False) -> jax.Array:
    if len(self.widths) != len(self.width_strides):
      raise ValueError(
        f"crnn: widths {tuple(self.widths)} and width_strides "
        f"{tuple(self.width_strides)} must have one entry per stage"
      )
    x_BxHxWxC = layers.as_images(x_BxHxWxC)
    b, h, w, c = x_BxHxWxC.shape
    k = self.space_to_depth
    if k < 1 or h % k or w % k:
      raise ValueError(f"crnn: space_to_depth={k} must divide the input's {h} x {w}")
    if (h // k) >> len(self.widths) < 1 or self.frames(w) < 1:
      raise ValueError(
        f"crnn: a {h} x {w} input is too small for space_to_depth={k} and "
        f"{len(self.widths)} stages that halve the height and divide the "
        f"width by {tuple(self.width_strides)}"
      )
    prec = layers.precision(self)
    # B x H x W x C -> B x H/k x W/k x (k k C): pixel (k i + u, k j + v) -> (i, j)
    z = x_BxHxWxC.reshape(b, h // k, k, w // k, k, c).transpose(0, 1, 3, 2, 4, 5)
    z = z.reshape(b, h // k, w // k, k * k * c)
    for i, (c, s) in enumerate(zip(self.widths, self.width_strides)):
      z = nn.relu(nn.Conv(c, (3, 3), padding="SAME", name=f"conv{i}", **prec)(z))
      z = nn.max_pool(z, (2, s), strides=(2, s))
    b, hh, t, c = z.shape
    # B x H' x T x C -> B x T x (H' C): each frame's column of features
    seq_BxTxD = z.transpose(0, 2, 1, 3).reshape(b, t, hh * c)
    for layer in range(self.num_layers):
      birnn = nn.Bidirectional(
        nn.RNN(
          nn.OptimizedLSTMCell(self.hidden, name=f"cell{layer}_fwd", **prec), name=f"rnn{layer}_fwd"
        ),
        nn.RNN(
          nn.OptimizedLSTMCell(self.hidden, name=f"cell{layer}_bwd", **prec), name=f"rnn{layer}_bwd"
        ),
        name=f"birnn{layer}",
      )
      # cast: flax types Bidirectional's result as "outputs or (carry, outputs)";
      # without return_carry it is the outputs
      seq_BxTxD = cast(jax.Array, birnn(seq_BxTxD))
      seq_BxTxD = layers.dropout(self.dropout, train)(seq_BxTxD)
    return nn.Dense(self.num_outputs, name="head", **prec)(seq_BxTxD)
