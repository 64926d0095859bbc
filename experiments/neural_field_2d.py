"""Neural field: an MLP f(x, y) -> RGB fit to one image, with and without positional encoding (notes 000)."""
from . import _base

REPORT = dict(task="study: coordinate network, positional encoding or not",
              output="sigmoid (RGB in [0, 1])", loss="squared error",
              model="MLP (x, y) -> 4x128 ReLU -> RGB; gamma(p) with L=0 vs L=5",
              data="image_field_2d: a 64x64 image, 4,096 pixels; test = the same pixels",
              metric="psnr_gap_db", bar=">= 5 (dB, PSNR with encoding - without)",
              table=("train/loss", "test/psnr"))

# gamma's top frequency 2^(L-1) pi: with L = 5, 16 periods across the 64 pixels, one
# per 4 pixels, the period of the rings and the checker cells' width. L = 6 reaches
# the grid's Nyquist limit (2 pixels): it fits the pixels as well (43.3 vs 42.7 dB)
# but invents detail between them (on data.test_split="shifted", the half-pixel-
# shifted grid: 13.9 dB against 16.2 dB for L = 5 and 14.4 dB without encoding).
_NUM_FREQS = 5


def get_config():
  c = _base.base_config()
  c.data.name = "image_field_2d"  # nn_lib/data/fields.py; train = test = every pixel
  c.model = dict(name="mlp", num_outputs=3, depth=4, width=128, activation="relu",
                 kernel_init="he", num_freqs=0, output_activation="sigmoid")
  c.loss = dict(name="squared_error")
  c.optimizer = dict(name="adam", learning_rate=3e-3)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 1500
  c.batch_size = 1024  # a quarter of the pixels per step
  c.eval_batch_size = 4096
  c.log_every = 100
  c.eval_every = 250
  c.checkpoint_every = 1500
  c.keep_checkpoints = 1
  c.steps_per_call = 10  # a small dense model: one dispatch per 10 steps
  c.metrics = ("mse", "psnr")
  c.study = "neural_field"  # nn_lib/studies/neural_field.py: images, PSNRs and the gap
  c.compare = dict(runs=(("no_encoding", (("model.num_freqs", 0),)),
                         ("positional_encoding", (("model.num_freqs", _NUM_FREQS),))),
                   panels=("test/psnr",),
                   title=f"same MLP and budget; positional encoding L=0 vs L={_NUM_FREQS}")
  return c


def _smoke(c):
  # The whole image in both splits: the common smoke cut keeps the first pixels
  # of TFDS's shuffled order, a scatter that is no image to draw. A batch of 256
  # rather than 16 pixels, so that 6 steps lower the loss over the image.
  c.data.train_split, c.data.test_split = "train", "test"
  c.batch_size = 256
  c.eval_batch_size = 4096
  c.steps_per_call = 1
  c.checkpoint_every = 6  # one checkpoint, not two: each costs ~0.4 s here
  _base.only_runs("positional_encoding")(c)  # the run that exercises the encoding


VARIANTS = {"smoke": _smoke}
