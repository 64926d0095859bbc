"""What a CTC reader sees in a strip (notes 004 "CTC cost for speech recognition"):
each strip drawn with, under every frame, the symbol of its per-frame argmax ("_"
for the blank), so the path "__33_5__" that best-path decoding collapses to "35" is
visible column by column, and a title with the reference and the decoded labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nn_lib.plots.figure import plt, save


def _text(labels: Sequence[int]) -> str:
  return "".join(str(int(c)) for c in labels) or "(empty)"


def strip_readings(
  images_NxHxW: np.ndarray,
  argmax_NxT: np.ndarray,
  *,
  blank: int,
  refs: Sequence[Sequence[int]],
  decoded: dict[str, Sequence[Sequence[int]]],
  path: str | Path,
) -> Path:
  """One row per strip: the image, the per-frame argmax symbol under each frame's
  columns (frame t covers columns [t W / T, (t + 1) W / T)), and a title
  "ref 135 | best path 135 | beam 135" (`decoded`: decoder name -> labellings),
  red where a decoder disagrees with the reference."""
  n, h, w = images_NxHxW.shape
  t = argmax_NxT.shape[1]
  fig, axes = plt.subplots(n, 1, figsize=(w / 14, 1.05 * n * (h + 12) / 14), squeeze=False)
  for i, ax in enumerate(axes[:, 0]):
    ax.imshow(images_NxHxW[i], cmap="gray_r", extent=(0, w, h, 0), aspect="equal")
    for f, c in enumerate(argmax_NxT[i]):
      x = (f + 0.5) * w / t
      blank_f = int(c) == blank
      ax.text(
        x,
        h + 5,
        "_" if blank_f else str(int(c)),
        ha="center",
        va="center",
        fontsize=6,
        color="0.6" if blank_f else "tab:blue",
        family="monospace",
      )
    ax.set_xlim(0, w)
    ax.set_ylim(h + 9, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    wrong = any(list(d[i]) != list(refs[i]) for d in decoded.values())
    parts = [f"ref {_text(refs[i])}"] + [f"{k} {_text(v[i])}" for k, v in decoded.items()]
    if i == 0:
      parts.append(f"(under the strip: each of the T = {t} frames' argmax, _ = blank)")
    ax.set_title(" | ".join(parts), fontsize=8, color="tab:red" if wrong else "black")
  return save(fig, path)
