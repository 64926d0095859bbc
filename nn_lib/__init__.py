"""nn_lib: the course's models, data pipeline and training machinery on JAX/Flax.

Sub-packages: `data` (TFDS-backed sources and host-side batching), `models` (the
Flax Linen zoo, looked up by name), `training` (state, jitted step, loop,
checkpoints). `metrics`, `plots` and `writers` serve the training loop.
"""
