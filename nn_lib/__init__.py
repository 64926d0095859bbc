"""nn_lib: the course's models, data pipeline and training machinery on JAX/Flax.

Sub-packages: `data` (TFDS-backed sources and host-side batching), `models` (the
Flax Linen zoo, looked up by name), `training` (state, jitted step, loop,
checkpoints). `metrics`, `plots` and `writers` serve the training loop.
"""

from __future__ import annotations


def _check_losses_is_ours() -> None:
  """`losses` is a generic top-level name: a user's own losses.py (or folder)
  earlier on sys.path would shadow the loss library, and config lookups would
  silently use it ("unknown loss ...; valid: my_loss"). Refuse that at import."""
  import losses  # pylint: disable=g-import-not-at-top

  if not (hasattr(losses, "LOSSES") and hasattr(losses, "reduce")):
    raise ImportError(
      f"'import losses' finds {getattr(losses, '__file__', None) or losses!r}, which "
      "is not the loss library nn_lib needs (it has no LOSSES table). A file or "
      "folder named 'losses' in the working directory or on PYTHONPATH shadows it: "
      "rename it, or run from another directory."
    )


_check_losses_is_ours()
