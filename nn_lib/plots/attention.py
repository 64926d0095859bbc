"""Attention heat maps of a sequence-to-sequence model (notes 004 "Attention model":
alpha<t,t'>, the amount of attention output y<t> pays to input position t'): one
panel per example, the output tokens down, the source tokens across, each row a
distribution over the source (it sums to 1). Plain functions of arrays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nn_lib.plots.figure import plt, save


def attention_maps(
  weights_BxTxS: np.ndarray,
  src_tokens: Sequence[Sequence[str]],
  out_tokens: Sequence[Sequence[str]],
  path: str | Path,
  *,
  titles: Sequence[str] | None = None,
  suptitle: str = "",
) -> Path:
  """Example b's panel shows weights[b, :len(out_tokens[b]), :len(src_tokens[b])]
  (the rest is padding) on one colour scale [0, 1], labelled with its tokens and
  titled titles[b] (default: the source tokens joined)."""
  weights_BxTxS = np.asarray(weights_BxTxS, np.float32)
  b = len(weights_BxTxS)
  if weights_BxTxS.ndim != 3 or not b or len(src_tokens) != b or len(out_tokens) != b:
    raise ValueError(
      f"attention_maps: needs weights B x T x S with B >= 1 and B token "
      f"lists each; got {weights_BxTxS.shape}, {len(src_tokens)} sources, "
      f"{len(out_tokens)} outputs"
    )
  if titles is not None and len(titles) != b:
    raise ValueError(f"attention_maps: {b} examples but {len(titles)} titles")
  for k in range(b):
    t, s = len(out_tokens[k]), len(src_tokens[k])
    if not (0 < t <= weights_BxTxS.shape[1] and 0 < s <= weights_BxTxS.shape[2]):
      raise ValueError(
        f"attention_maps: example {k} has {t} output and {s} source "
        f"tokens, outside its weights {weights_BxTxS.shape[1:]}"
      )
  cols = min(b, 2)
  rows = -(-b // cols)
  widths = [max(len(src_tokens[k]) for k in range(b)) * 0.2 + 1.0] * cols
  fig, axes = plt.subplots(rows, cols, figsize=(sum(widths), 3.0 * rows), squeeze=False)
  for k, ax in enumerate(axes.flat):
    if k >= b:
      ax.remove()
      continue
    src, out = list(src_tokens[k]), list(out_tokens[k])
    image = ax.imshow(
      weights_BxTxS[k, : len(out), : len(src)], cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto"
    )
    ax.set_xticks(range(len(src)), src, fontsize=7, rotation=90)
    ax.set_yticks(range(len(out)), out, fontsize=7)
    ax.set_xlabel("source", fontsize=8)
    ax.set_ylabel("output", fontsize=8)
    ax.set_title(repr(titles[k]) if titles is not None else "".join(src), fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
  if suptitle:
    fig.suptitle(suptitle, fontsize=9)
  return save(fig, path)
