"""The one lookup-by-name type, and what each registry holds."""
from __future__ import annotations

import pytest

import losses
from nn_lib import studies
from nn_lib import data, metrics, models, plots, trainers
from nn_lib.registry import ConfigError, Registry
from nn_lib.training import objective, optim


def test_registry_lists_valid_names_and_refuses_duplicates():
  colours = Registry("colour", {"red": 1})
  colours.register("blue")(2)
  assert colours.get("blue") == 2 and "red" in colours and len(colours) == 2
  assert list(colours) == colours.names() == ["blue", "red"]
  with pytest.raises(ConfigError, match="unknown colour 'green'; valid: blue, red"):
    colours.get("green")
  with pytest.raises(ValueError, match="colour 'red' is registered twice"):
    colours.add("red", 3)


def test_the_config_names_losses_not_penalties():
  assert objective.LOSSES.get("huber") is losses.huber
  for name in ("l2_penalty", "max_norm", "MaxNormState", "reduce"):
    with pytest.raises(ConfigError, match=f"unknown loss '{name}'"):
      objective.loss_from_config({"name": name})


@pytest.mark.parametrize("registry, names", [
    (trainers.TRAINERS, {"supervised", "knn", "gan", "nerf", "charlm", "seq2seq", "ctc",
                         "word_vectors"}),
    (studies.STUDIES, {"compare", "polyfit_orders", "neural_field"}),
    (data.SOURCES, {"embedded", "tfds", "npz", "inline"}),
    (data.TARGET_TRANSFORMS, {"is_class", "one_hot", "inputs", "normalize"}),
    (data.EMBEDDED, {"digits", "moons", "circles", "blobs", "mnist10k", "mnist_multilabel",
                     "mnist_detect", "mnist_likes", "polyfit", "vector_regression",
                     "image_field_2d", "mnist_grid_detect", "shapes_seg", "austen_text",
                     "dates", "digit_strips"}),
    (optim.SCHEDULES, {"constant", "cosine", "exponential", "exponential_epoch",
                       "inverse_sqrt", "inverse_time", "linear", "staircase"}),
])
def test_registries_hold_what_the_configs_name(registry, names):
  assert set(registry.names()) == names


def test_optimizers_metrics_models_and_plots_are_registries():
  for registry, name in ((optim.OPTIMIZERS, "adam"), (metrics.METRICS, "accuracy"),
                         (models.MODELS, "resnet"), (plots.PLOTS, "confusion_matrix")):
    assert isinstance(registry, Registry) and name in registry
  with pytest.raises(ConfigError, match=r"schedule 'cosine' does not take \['warmup'\]; "
                     r"it takes \['warmup_steps', 'end_fraction'\]"):
    optim.make_schedule({"name": "cosine", "warmup": 3}, 0.1, 100)
