"""Plots of a finished run, chosen by name in `config.plots`.

Each takes the run's `Result` and the plots directory, draws from the model's
predictions (`result.predict`) and the loaded splits, and returns the numbers it
measured for the summary (most return none). The drawing itself is in the sibling
modules, which take plain arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from nn_lib import metrics
from nn_lib.plots import classification, images
from nn_lib.registry import Registry

PlotFn = Callable[[Any, Path], "dict[str, float] | None"]
PLOTS: Registry[PlotFn] = Registry("plot")


def _labels(split: dict) -> np.ndarray:
  """Class labels of a split, also where a target transform replaced the targets."""
  return split.get("labels", split["targets"])


def _linear_kernel(state: dict) -> np.ndarray:
  """The D x K weight matrix of a one-layer linear model (its only 2-D parameter)."""
  kernels = [x for x in jax.tree.leaves(state["params"]) if np.ndim(x) == 2]
  if len(kernels) != 1:
    raise ValueError(
      f"the weight_templates plot needs a linear model (one 2-D weight "
      f"matrix); found {[np.shape(k) for k in kernels]}"
    )
  return np.asarray(kernels[0])


@PLOTS.register("decision_boundary")
def decision_boundary(result, out: Path) -> None:
  """Predicted class regions over the plane of a 2-D dataset, test points on top."""
  test = result.splits["test"]
  points = np.concatenate([result.splits["train"]["inputs"], test["inputs"]])
  xx, yy, grid = classification.grid_2d(points, resolution=200)
  classes = result.predict(grid).argmax(axis=-1).reshape(xx.shape)
  accuracy = float(np.mean(result.predict(test["inputs"]).argmax(-1) == test["targets"]))
  classification.decision_boundary(
    xx,
    yy,
    classes,
    test["inputs"],
    test["targets"],
    out / "decision_boundary.png",
    title=f"{type(result.model).__name__} - test accuracy {accuracy:.3f}",
  )


@PLOTS.register("weight_templates")
def weight_templates(result, out: Path) -> None:
  """A linear classifier's rows of W as images (notes 002's template matching):
  diverging colours for greyscale inputs, each template scaled to [0, 1] for RGB."""
  image_shape = result.splits["train"]["inputs"].shape[1:]
  templates = _linear_kernel(result.state).T.reshape(-1, *image_shape)
  names = result.cfg.data.get("class_names") or [f"class {k}" for k in range(len(templates))]
  title = f"{result.cfg.loss.name}: one template per class"
  if image_shape[-1] == 3:
    axes = tuple(range(1, templates.ndim))
    lo, hi = templates.min(axis=axes, keepdims=True), templates.max(axis=axes, keepdims=True)
    images.image_grid(
      (templates - lo) / np.maximum(hi - lo, 1e-12),
      out / "weight_templates.png",
      titles=list(names),
      ncols=10,
      suptitle=title,
    )
  else:
    classification.weight_templates(
      templates.reshape(len(templates), *image_shape[:2]),
      out / "weight_templates.png",
      titles=list(names),
      suptitle=title,
    )


@PLOTS.register("confusion_matrix")
def confusion_matrix(result, out: Path) -> None:
  test = result.splits["test"]
  counts = np.asarray(metrics.confusion_matrix(result.predict(test["inputs"]), test["targets"]))
  classification.confusion_matrix(
    counts,
    out / "confusion_matrix.png",
    title=f"test accuracy {np.trace(counts) / counts.sum():.3f}",
  )


@PLOTS.register("reconstructions")
def reconstructions(result, out: Path) -> None:
  """20 test images above their reconstructions sigma(logits)."""
  originals = result.splits["test"]["inputs"][:20]
  recon = np.asarray(jax.nn.sigmoid(result.predict(originals)))
  images.reconstruction_grid(
    originals,
    recon,
    out / "reconstructions.png",
    title=f"{result.cfg.loss.name}, latent {result.cfg.model.latent_dim}: "
    "test digits (top) and reconstructions (bottom)",
  )


@PLOTS.register("latent_scatter")
def latent_scatter(result, out: Path) -> None:
  """Every test image's 2-D code (the model's `encode`), coloured by its class."""
  test = result.splits["test"]
  images.latent_scatter(
    result.predict(test["inputs"], method="encode"),
    _labels(test),
    out / "latent.png",
    title="2-D latent codes of the test digits, by class",
  )


@PLOTS.register("detection_boxes")
def detection_boxes(result, out: Path) -> None:
  """Predicted (red) and true (green) boxes on 24 test canvases."""
  test, n = result.splits["test"], 24
  # one compiled program (eagerly, each slice and sigmoid compiles on its own)
  decode_and_score = jax.jit(
    lambda out, true_boxes: (
      *metrics.decode_boxes(out),
      metrics.box_iou(metrics.decode_boxes(out)[1], true_boxes),
    )
  )
  true = test["targets"][:n]
  p, pred_boxes, iou = (
    np.asarray(a) for a in decode_and_score(result.predict(test["inputs"][:n]), true[:, 1:])
  )
  titles = [
    f"p={pk:.2f} I={int(tk[0])}" + (f" IoU={ik:.2f}" if tk[0] > 0.5 else "")
    for pk, tk, ik in zip(p, true, iou)
  ]
  images.boxes_grid(
    test["inputs"][:n],
    true[:, 1:],
    pred_boxes,
    out / "boxes.png",
    true_present_N=true[:, 0] > 0.5,
    pred_present_N=p > 0.5,
    titles=titles,
    ncols=8,
  )


def _label_set(row: np.ndarray) -> str:
  return "{" + ",".join(str(c) for c in np.flatnonzero(row)) + "}"


def _multilabel_grid(test: dict, predicted: np.ndarray, path: Path, head: str) -> None:
  n = 24
  titles = [
    f"true {_label_set(t)}\npred {_label_set(p)}" for t, p in zip(_labels(test)[:n], predicted[:n])
  ]
  images.image_grid(
    test["inputs"][:n],
    path,
    titles=titles,
    ncols=8,
    suptitle=f"{head} head: test canvases, true and predicted digits",
  )


@PLOTS.register("multilabel_predictions")
def multilabel_predictions(result, out: Path) -> None:
  """Test canvases with their digits and those an independent-sigmoid head finds
  (p > 0.5, i.e. logit > 0)."""
  test = result.splits["test"]
  _multilabel_grid(test, result.predict(test["inputs"]) > 0, out / "predictions.png", "sigmoid")


@PLOTS.register("softmax_multilabel")
def softmax_multilabel(result, out: Path) -> dict[str, float]:
  """A softmax head read as several labels: class c is predicted where p_c > th,
  with th tuned on the training split. Returns the test micro-F1 at that th (and
  the th), to set beside `softmax_f1_micro_p50`."""
  train, test = result.splits["train"], result.splits["test"]
  train_logits = result.predict(train["inputs"])
  grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
  best = max(
    grid, key=lambda th: metrics.softmax_multilabel_f1_micro(train_logits, _labels(train), th)
  )
  logits = result.predict(test["inputs"])
  predicted = np.asarray(jax.nn.softmax(logits, axis=-1)) > best
  _multilabel_grid(test, predicted, out / "predictions.png", f"softmax (p > {best})")
  return {
    "test/softmax_f1_micro_tuned": float(
      metrics.softmax_multilabel_f1_micro(logits, _labels(test), best)
    ),
    "softmax_threshold": float(best),
  }


@PLOTS.register("score_scatter")
def score_scatter(result, out: Path) -> None:
  """Each test image's predicted score against its hidden relevance."""
  test = result.splits["test"]
  scores = result.predict(test["inputs"])
  tau = float(metrics.kendall_tau(scores, test["targets"]))
  acc = float(metrics.pairwise_accuracy(scores, test["targets"]))
  images.score_scatter(
    np.ravel(scores),
    np.ravel(test["targets"]),
    out / "scores_vs_likes.png",
    xlabel="hidden likes",
    ylabel="predicted score",
    title=f"test images: pairwise accuracy {acc:.3f}, Kendall tau {tau:.3f}",
  )
