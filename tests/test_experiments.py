"""Every experiment runs its smoke variant and learns something in it; variants
compose; the cheap experiments meet their quality bar with their full configs."""
from __future__ import annotations

import json
import math

import ml_collections
import numpy as np
import pytest

import experiments
from nn_lib.training import evaluate, objective
from tests.conftest import run_experiment, run_train

# How much the smoke variant's 6 steps lower the training loss, as a fraction of the
# loss at the initial parameters, on the first 256 training examples (measured on
# the CPU: 0.023 for mnist10k_lenet, the smallest, up to 0.95).
MIN_FALL = 0.01
# Runs whose loss must NOT fall: the lesson is that they cannot learn.
STUCK = {
    # Squared error on a saturated sigmoid: gradients vanish (notes 003).
    ("logreg_sigmoid_mse", "sigmoid_squared_error"),
    # No line separates concentric circles: the loss stays at ln 2 (chance).
    ("toy2d_circles_linear", ""),
    # Zero weights: every hidden unit is the same (and here silent); nothing learns.
    ("init_study", "zeros"),
}


# Trainers whose smoke run is checked by the training loss they log (the batch loss
# of each chunk): the metrics each eval split must have and the files they write.
STREAMED = {
    "nerf": (["psnr"], ["plots/renders.png"]),
    "charlm": (["bpc"], ["sample.txt"]),
    "seq2seq": (["loss", "token_accuracy", "exact_match", "bleu", "beam_exact_match",
                 "beam_bleu"], ["plots/attention.png", "examples.txt"]),
    "word_vectors": (["accuracy"], ["neighbours.txt", "plots/pca.png"]),
    "ctc": (["loss", "seq_accuracy", "cer", "seq_accuracy_beam", "cer_beam"],
            ["plots/ctc_strips.png"]),
}


def loss_before_and_after(result, n: int = 256) -> tuple[float, float]:
  """Mean training loss on `n` training examples at the initial parameters (the
  seed's, as the trainer built them) and at the trained ones."""
  cfg, train = result.cfg, result.splits["train"]
  x, t = train["inputs"][:n], train["targets"][:n]
  loss_fn = objective.loss_from_config(cfg.loss)
  initial = result.initial_state()  # the run's own compiled init: nothing to compile
  return (evaluate(result.predict(x, state=initial), t, loss_fn)["loss"],
          evaluate(result.predict(x), t, loss_fn)["loss"])


@pytest.mark.parametrize("name", experiments.names())
def test_smoke_variant_learns(name, tmp_path):
  result = run_experiment(f"{name}:smoke", tmp_path)
  assert (tmp_path / "summary.json").exists() and (tmp_path / "config.json").exists()
  runs = result.runs or {"": result}
  for run_name, run in runs.items():
    assert run.cfg.get("num_steps", 0) <= 10
    trainer = run.cfg.get("trainer")
    if trainer == "gan":  # two players: no one loss that must fall
      assert run.final and all(math.isfinite(v) for v in run.final.values()), run.final
      assert int(run.state["step"]) == run.cfg.num_steps
      assert (run.workdir / "plots" / "samples.png").exists()
      continue
    if trainer in STREAMED:  # the batch loss each chunk logged, and the outputs
      _, train_loss = run.history.curve("train", "loss")
      assert train_loss[-1] <= (1 - MIN_FALL) * train_loss[0], train_loss
      assert int(run.state["step"]) == run.cfg.num_steps
      metrics, files = STREAMED[trainer]
      for split in run.cfg.get("eval_splits", ()):
        for metric in metrics:
          assert math.isfinite(run.final[f"{split}/{metric}"]), (metric, run.final)
      for file in files:
        assert (run.workdir / file).exists(), file
      continue
    if run.model is None:  # kNN: no loss to lower; it must beat chance (0.1) by far
      assert run.final["test/accuracy"] >= 0.9
      continue
    before, after = loss_before_and_after(run)
    assert math.isfinite(before) and math.isfinite(after)
    fall = (before - after) / before
    if (name, run_name) in STUCK:
      assert abs(fall) < MIN_FALL, (run_name, before, after)
    else:
      assert fall >= MIN_FALL, (run_name, before, after)
    assert run.state["step"] == run.cfg.num_steps


def test_variants_compose_and_unknown_ones_are_errors():
  cfg = experiments.get_config("multilabel_digits:softmax,smoke")
  assert cfg.loss.name == "softmax_cross_entropy" and cfg.num_steps == 6
  assert cfg.data.target_transform.name == "normalize"
  assert experiments.get_config("polyfit_orders:smoke").orders == (3, 12)
  with pytest.raises(ValueError, match="unknown variant 'smok' of digits_mlp; valid: smoke"):
    experiments.get_config("digits_mlp:smok")
  with pytest.raises(ValueError, match="unknown variant 'sigmoid' of multilabel_digits; "
                     "valid: smoke, softmax"):
    experiments.get_config("multilabel_digits:sigmoid")


def test_every_experiment_describes_itself_and_reports_a_metric():
  for name in experiments.names():
    description = experiments.describe(name)
    assert len(description) > 20 and "\n" not in description, name
    report = experiments.report(name)
    assert {"task", "output", "loss", "model", "data", "metric", "bar"} <= set(report), name


@pytest.mark.full_run
def test_digits_mlp_reaches_97_percent(tmp_path):
  result = run_experiment("digits_mlp", tmp_path)
  assert result.final["test/accuracy"] >= 0.97
  steps, values = result.history.curve("test", "accuracy")
  assert steps == [500, 1000, 1500] and values[-1] == result.final["test/accuracy"]
  assert np.mean(np.argmax(result.predict(result.splits["test"]["inputs"]), -1)
                 == result.splits["test"]["targets"]) == pytest.approx(values[-1])


@pytest.mark.full_run
def test_mnist10k_lenet_reaches_97_percent(tmp_path):
  # 1500 convolution steps: optimized XLA code pays for its compile
  run_train("--experiment=mnist10k_lenet", f"--workdir={tmp_path}", optimized=True)
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["final"]["test/accuracy"] >= 0.97


def test_studies_name_their_runs_and_smoke_keeps_a_few():
  from nn_lib.studies import compare  # pylint: disable=g-import-not-at-top
  full = compare.variations(experiments.get_config("regularization_study").compare)
  assert list(full) == ["none", "l2", "dropout", "early_stopping"]
  assert full["l2"] == {"regularizer.l2_lambda": 0.3}
  assert full["dropout"]["model"]["dropout"] == 0.5
  smoke = compare.variations(experiments.get_config("regularization_study:smoke").compare)
  assert list(smoke) == ["early_stopping"]
  by_key = compare.variations(experiments.get_config("init_study:smoke").compare)
  assert by_key == {"zeros": {"model.kernel_init": "zeros"},
                    "he": {"model.kernel_init": "he"}}
  with pytest.raises(ValueError, match="needs `key` and `choices`, or `runs`"):
    compare.variations(ml_collections.ConfigDict({"title": "no runs"}))
