"""The fused linear + softmax cross-entropy's place in the package (public, but
not a `LOSSES` entry: it takes hidden states and the output layer) and its clear
errors for bad inputs. Its numerics: test_losses_fused_ce.py."""
import jax.numpy as jnp
import numpy as np
import pytest

import losses

fused = losses.linear_softmax_cross_entropy_with_integer_labels
FN = "linear_softmax_cross_entropy_with_integer_labels"


def test_public_but_not_in_the_loss_table():
  assert FN in losses.__all__ and fused.__doc__ and len(fused.__doc__) > 80
  # it takes hidden states and the output layer, not logits and targets
  assert FN not in losses.LOSSES


BAD = [
    ("float labels", lambda h, w, b, y: fused(h, w, y.astype(jnp.float32)),
     "labels must be integer class indices"),
    ("integer hidden", lambda h, w, b, y: fused(y, w, y),
     "hidden must be floating point"),
    ("integer weight", lambda h, w, b, y: fused(h, y, y),
     "weight must be floating point"),
    ("weight D", lambda h, w, b, y: fused(h, w[1:], y),
     r"weight must have shape \(D, V\) with D = hidden.shape\[-1\] = 8, got "
     r"weight shape \(7, 40\)"),
    ("weight rank", lambda h, w, b, y: fused(h, w[None], y),
     "weight must have shape"),
    ("labels shape", lambda h, w, b, y: fused(h, w, y[:, :3]),
     r"hidden shape \(4, 6, 8\) and labels shape \(4, 3\) are incompatible"),
    ("bias shape", lambda h, w, b, y: fused(h, w, y, bias=b[:5]),
     r"bias must have shape \(40,\)"),
    ("chunk 0", lambda h, w, b, y: fused(h, w, y, chunk_size=0),
     "chunk_size must be a positive int, got 0"),
    ("chunk float", lambda h, w, b, y: fused(h, w, y, chunk_size=2.5),
     "chunk_size must be a positive int, got 2.5"),
    ("smoothing", lambda h, w, b, y: fused(h, w, y, label_smoothing=1.5),
     r"label_smoothing must be in \[0, 1\], got 1.5"),
    ("z_loss", lambda h, w, b, y: fused(h, w, y, z_loss=-1.0),
     "z_loss must be >= 0, got -1.0"),
    ("where shape", lambda h, w, b, y: fused(h, w, y, where=jnp.ones((3,),
                                                                     bool)),
     r"where shape \(3,\) does not broadcast"),
    ("reduction", lambda h, w, b, y: fused(h, w, y, reduction="avg"),
     r"reduction must be one of \(None, 'sum', 'mean', 'weighted_mean'\), "
     "got 'avg'"),
    ("row block 0", lambda h, w, b, y: fused(h, w, y, reduction="sum",
                                             row_block=0),
     "row_block must be a positive int, got 0"),
]


@pytest.mark.parametrize("call,match", [c[1:] for c in BAD],
                         ids=[c[0] for c in BAD])
def test_bad_inputs_raise_clear_errors(call, match):
  r = np.random.default_rng(0)
  h = jnp.asarray(r.normal(size=(4, 6, 8)), jnp.float32)    # hidden: B x T x D
  w = jnp.asarray(r.normal(size=(8, 40)), jnp.float32)      # weight: D x V
  b = jnp.asarray(r.normal(size=(40,)), jnp.float32)
  y = jnp.asarray(r.integers(0, 40, size=(4, 6)))
  with pytest.raises(ValueError, match=f"{FN}: {match}"):
    call(h, w, b, y)
