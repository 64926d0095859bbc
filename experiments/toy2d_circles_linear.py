"""Linear classifier (f = Wx + b) + softmax CE on the 2-D circles: fails, near chance (notes 001/003)."""
from . import toy2d_circles

# A linear classifier's regions are half-planes (notes 002's geometric viewpoint);
# concentric circles need a feature-space transformation (notes 001), e.g. an MLP.
REPORT = dict(task="binary classification (2-D)", output="softmax",
              loss="softmax cross-entropy", model="linear f = Wx + b",
              data="circles (800 train / 200 test)", metric="test/accuracy",
              bar="about 0.5 (chance): no line separates concentric circles")


def get_config():
  c = toy2d_circles.get_config()
  c.model = dict(name="linear", num_outputs=2)
  return c
