"""Saving a figure: one place for the backend choice and for who writes."""
from __future__ import annotations

from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def save(fig, path: str | Path) -> Path:
  """Lays out, writes (process 0 only: the others computed the same figure) and
  closes `fig`; returns the path."""
  path = Path(path)
  # The layout engine lays the figure out during savefig's own draw: one draw
  # instead of two (fig.tight_layout() draws it first), a third of a plot's time.
  fig.set_layout_engine("tight")
  if jax.process_index() == 0:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
  plt.close(fig)
  return path
