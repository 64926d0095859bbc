"""Recurrent sequence models of notes 004 ("Sequence models"): the basic RNN,
GRU and LSTM, optionally bidirectional and stacked, with a per-step output head
for sequence labelling and language modelling. The recursions run through
flax's nn.RNN (a lax.scan) over flax cells; only the notes' GRU variant, which
flax does not ship, is written here as a cell."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from nn_lib.models import layers
from nn_lib.models.registry import register


class NotesGRUCell(nn.RNNCellBase):
  """The notes' full GRU (Cho et al. 2014 as taught in notes 004), c = a:

      Gamma_r = sigma(W_r [c<t-1>, x<t>] + b_r)
      Gamma_u = sigma(W_u [c<t-1>, x<t>] + b_u)
      c~<t>   = tanh(W_c [Gamma_r * c<t-1>, x<t>] + b_c)
      c<t>    = Gamma_u * c~<t> + (1 - Gamma_u) * c<t-1>

  (the notes omit the Gamma_r line; it is the gate above). Each W_g [c, x] is
  stored as two dense layers: "h<g>" on c (no bias) and "i<g>" on x (with b_g),
  so W_g = [h<g>.kernel; i<g>.kernel] in the notes' stacked form. flax's
  GRUCell differs: it applies the reset gate after the recurrent matmul,
  r * (W_hn c + b_hn), and its update gate z plays the role of 1 - Gamma_u.
  """

  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  recurrent_kernel_init: nn.initializers.Initializer = nn.initializers.orthogonal()
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  @nn.compact
  def __call__(self, c_BxH: jax.Array, x_BxD: jax.Array) -> tuple[jax.Array, jax.Array]:
    prec = layers.precision(self)
    dense_x = functools.partial(nn.Dense, self.features, kernel_init=self.kernel_init, **prec)
    dense_c = functools.partial(
      nn.Dense, self.features, use_bias=False, kernel_init=self.recurrent_kernel_init, **prec
    )
    gamma_r = nn.sigmoid(dense_x(name="ir")(x_BxD) + dense_c(name="hr")(c_BxH))
    gamma_u = nn.sigmoid(dense_x(name="iu")(x_BxD) + dense_c(name="hu")(c_BxH))
    c_tilde = jnp.tanh(dense_x(name="ic")(x_BxD) + dense_c(name="hc")(gamma_r * c_BxH))
    c_new = (gamma_u * c_tilde + (1.0 - gamma_u) * c_BxH).astype(c_BxH.dtype)
    return c_new, c_new

  @nn.nowrap
  def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]) -> jax.Array:
    del rng  # the state starts in param_dtype, as in flax's cells (F32CarrySimpleCell)
    return jnp.zeros(input_shape[:-1] + (self.features,), layers.as_dtype(self.param_dtype))

  @property
  def num_feature_axes(self) -> int:
    return 1


class F32CarrySimpleCell(nn.SimpleCell):
  """nn.SimpleCell whose hidden state keeps the carry's dtype. flax's cells start
  the carry in param_dtype (float32) and compute in `dtype` (bfloat16 under mixed
  precision). The LSTM and GRU cells mix the old float32 state into the new one,
  so their carry stays float32; SimpleCell's would come back bfloat16, which
  lax.scan refuses. Float32 is also what the state should be: rounding it to bf16
  at each of T steps would compound along the sequence."""

  def __call__(self, carry_BxH: jax.Array, x_BxD: jax.Array) -> tuple[jax.Array, jax.Array]:
    new_BxH, _ = super().__call__(carry_BxH, x_BxD)
    new_BxH = new_BxH.astype(carry_BxH.dtype)
    return new_BxH, new_BxH


class _Recurrent(nn.Module):
  """Shared body: [embedding] -> num_layers x (uni- or bidirectional RNN ->
  inverted dropout) -> per-step dense head y^<t> = W_y a<t> + b_y (logits; the
  loss applies g). Bidirectional layers concatenate [a->, a<-] (notes 004
  "Bidirectional RNN"); do not use them for language modelling, where the
  backward direction sees the future.

  Input: float features x_BxTxD, or integer tokens x_BxT when vocab_size is set
  (embedded by an nn.Embed of embed_dim). Output: B x T x num_outputs. Cell
  parameters are named cell<layer> (cell<layer>_fwd / _bwd if bidirectional). All
  sequences in a batch run the full T steps (pad and mask in the loss).

  Carrying the state across calls (truncated backprop through time, sampling one
  token at a time): `initial_carry` (one entry per layer, each the cell's carry,
  e.g. (c, a) for the LSTM; a (forward, backward) pair if bidirectional; None:
  zeros, a<0> = 0) starts the recursion from a given state, and `return_carry=True`
  returns (logits, carry) with the state after the last step. `with_carry` is the
  same as a method, for apply(..., method="with_carry").
  """

  num_outputs: int
  hidden: int = 64
  num_layers: int = 1
  bidirectional: bool = False
  vocab_size: int | None = None
  embed_dim: int = 32
  dropout: float = 0.0
  dtype: layers.DtypeLike = "float32"
  param_dtype: layers.DtypeLike = "float32"

  def make_cell(self, name: str) -> nn.RNNCellBase:
    raise NotImplementedError

  @nn.compact
  def __call__(
    self,
    x_BxTxD: jax.Array,
    *,
    train: bool = False,
    initial_carry: tuple | None = None,
    return_carry: bool = False,
  ) -> jax.Array | tuple[jax.Array, tuple]:
    if self.vocab_size is not None:
      if jnp.issubdtype(x_BxTxD.dtype, jnp.floating):
        raise TypeError("with vocab_size set the input must be integer tokens B x T")
      h = nn.Embed(self.vocab_size, self.embed_dim, name="embed", **layers.precision(self))(x_BxTxD)
    else:
      h = x_BxTxD
    if initial_carry is not None and len(initial_carry) != self.num_layers:
      raise ValueError(
        f"initial_carry has {len(initial_carry)} entries; the model has "
        f"num_layers={self.num_layers} (one carry per layer)"
      )
    carries = []
    for layer in range(self.num_layers):
      carry0 = None if initial_carry is None else initial_carry[layer]
      rnn: nn.Bidirectional | nn.RNN
      if self.bidirectional:
        rnn = nn.Bidirectional(
          nn.RNN(self.make_cell(f"cell{layer}_fwd")),
          nn.RNN(self.make_cell(f"cell{layer}_bwd")),
          name=f"birnn{layer}",
        )
      else:
        rnn = nn.RNN(self.make_cell(f"cell{layer}"), name=f"rnn{layer}")
      carry, h = rnn(h, initial_carry=carry0, return_carry=True)
      carries.append(carry)
      h = layers.dropout(self.dropout, train)(h)
    logits = nn.Dense(self.num_outputs, name="head", **layers.precision(self))(h)
    return (logits, tuple(carries)) if return_carry else logits

  def with_carry(
    self, x_BxTxD: jax.Array, initial_carry: tuple | None = None, *, train: bool = False
  ) -> tuple[jax.Array, tuple]:
    """(logits B x T x num_outputs, carry after step T) from `initial_carry`
    (None: zeros). Chaining calls on consecutive pieces of a sequence gives the
    logits of one call on the whole sequence."""
    out = self(x_BxTxD, train=train, initial_carry=initial_carry, return_carry=True)
    assert isinstance(out, tuple)  # return_carry=True: (logits, carry)
    return out


@register("rnn")
class SimpleRNN(_Recurrent):
  """Basic RNN (notes 004): a<0> = 0, a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a),
  y^<t> = W_ya a<t> + b_y, via nn.SimpleCell (W_ax = "i", W_aa = "h").
  `activation` is g (tanh or relu)."""

  activation: str = "tanh"

  def make_cell(self, name: str) -> nn.RNNCellBase:
    return F32CarrySimpleCell(
      self.hidden,
      activation_fn=layers.activation(self.activation),
      name=name,
      **layers.precision(self),
    )


@register("gru")
class GRU(_Recurrent):
  """GRU (notes 004 "Full GRU"). reset_after=False (default) is the notes'
  formulation (NotesGRUCell, reset gate inside the matmul);
  reset_after=True uses flax's nn.GRUCell (reset gate after the matmul, the
  cuDNN/PyTorch variant)."""

  reset_after: bool = False

  def make_cell(self, name: str) -> nn.RNNCellBase:
    cell = nn.GRUCell if self.reset_after else NotesGRUCell
    return cell(self.hidden, name=name, **layers.precision(self))


@register("lstm")
class LSTM(_Recurrent):
  """LSTM (notes 004), via nn.OptimizedLSTMCell:
  c~<t> = tanh(W_c[a<t-1>, x<t>] + b_c); Gamma_u, Gamma_f, Gamma_o =
  sigma(W_{u,f,o}[a<t-1>, x<t>] + b); c<t> = Gamma_u * c~<t> + Gamma_f * c<t-1>;
  a<t> = Gamma_o * tanh(c<t>). (The notes drop the sigma on Gamma_u; it is a
  sigmoid gate like the others.) flax names: u = "i", f = "f", o = "o", c~ = "g";
  "i*" act on x<t>, "h*" (with the bias) on a<t-1>."""

  def make_cell(self, name: str) -> nn.RNNCellBase:
    return nn.OptimizedLSTMCell(self.hidden, name=name, **layers.precision(self))
