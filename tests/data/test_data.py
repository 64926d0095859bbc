"""Data: embedded builders through the real TFDS path, npz and TFDS data_dir sources,
deterministic batching."""
from __future__ import annotations

import tempfile

import numpy as np
import pytest
import tensorflow_datasets as tfds
from ml_collections import ConfigDict

import experiments
from nn_lib import data
from nn_lib.data import builders
from nn_lib.registry import ConfigError
from nn_lib.training import train_and_evaluate
from nn_lib.training.checkpoint import read_latest


def data_config(name: str, **overrides) -> ConfigDict:
  cfg = experiments.get_config("digits_mlp").data
  cfg.name, cfg.standardize = name, False
  cfg.update(overrides)
  return cfg


EXPECTED = {  # name: (train size, test size, input shape, classes, input max)
    "digits": (1437, 360, (8, 8, 1), 10, 1.0),
    "moons": (800, 200, (2,), 2, None),
    "circles": (800, 200, (2,), 2, None),
    "blobs": (800, 200, (2,), 3, None),
    "mnist10k": (8000, 2000, (28, 28, 1), 10, 1.0),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_embedded_builder_prepares_and_reads_through_tfds(name, tmp_path):
  n_train, n_test, shape, classes, input_max = EXPECTED[name]
  data_dir = builders.prepare(name, tmp_path)
  assert (data_dir / name / "1.1.0" / "dataset_info.json").exists()
  source = tfds.data_source(name, split="test", data_dir=str(data_dir), download=False)
  assert len(source) == n_test
  assert source[0]["label"] in range(classes)

  splits = data.load(data_config(name, embedded_dir=str(tmp_path)))
  train, test = splits["train"], splits["test"]
  assert train["inputs"].shape == (n_train, *shape) and train["inputs"].dtype == np.float32
  assert test["targets"].shape == (n_test,)
  assert set(np.unique(train["targets"])) == set(range(classes))
  if input_max is not None:  # images are scaled to [0, 1] and really use the range
    assert train["inputs"].min() == 0.0 and train["inputs"].max() == input_max
  # Train and test are disjoint draws: no test input occurs in train.
  seen = {row.tobytes() for row in train["inputs"]}
  assert sum(row.tobytes() in seen for row in test["inputs"]) <= 0.01 * n_test


def test_embedded_datasets_are_identical_on_every_preparation(tmp_path):
  a = data.load(data_config("digits", embedded_dir=str(tmp_path / "a")))
  b = data.load(data_config("digits", embedded_dir=str(tmp_path / "b")))
  for split in ("train", "test"):
    for key in ("inputs", "targets"):
      np.testing.assert_array_equal(a[split][key], b[split][key])


def test_preparing_leaves_nothing_in_the_temp_folder(tmp_path, monkeypatch):
  # TFDS's own DatasetInfo leaves an empty mkdtemp("tfds") folder behind for a
  # builder whose data is not prepared yet
  scratch = tmp_path / "tmp"
  scratch.mkdir()
  monkeypatch.setattr(tempfile, "tempdir", str(scratch))
  builders.prepare("moons", tmp_path / "data")
  assert (tmp_path / "data" / "moons" / "1.1.0" / "dataset_info.json").exists()
  assert list(scratch.iterdir()) == []


def test_train_batches_are_a_pure_function_of_seed_and_step():
  split = {"inputs": np.arange(50)[:, None], "targets": np.arange(50)}
  a, b = data.TrainBatches(split, 8, seed=3), data.TrainBatches(split, 8, seed=3)
  assert a.steps_per_epoch == 6
  # Any order of access (as after a resume) gives the same batches.
  for step in (13, 2, 0, 13, 40):
    np.testing.assert_array_equal(a(step)["targets"], b(step)["targets"])
  epoch = np.concatenate([a(s)["targets"] for s in range(6)])
  assert len(set(epoch)) == 48  # no repeats within an epoch; 2 rows dropped
  assert not np.array_equal(a(0)["targets"], a(6)["targets"])  # reshuffled per epoch
  assert not np.array_equal(a(0)["targets"], data.TrainBatches(split, 8, 4)(0)["targets"])


def test_processes_split_the_global_batch_between_them():
  split = {"targets": np.arange(40)}
  whole = data.TrainBatches(split, 8, seed=0)(5)["targets"]
  parts = [data.TrainBatches(split, 8, 0, process_index=i, process_count=4)(5)["targets"]
           for i in range(4)]
  np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_eval_batches_cover_every_row_once_with_a_mask():
  split = {"targets": np.arange(10)}
  batches = list(data.eval_batches(split, 4))
  assert [len(b["targets"]) for b in batches] == [4, 4, 4]
  real = np.concatenate([b["targets"][b["mask"]] for b in batches])
  np.testing.assert_array_equal(real, np.arange(10))
  assert batches[-1]["mask"].tolist() == [True, True, False, False]


def test_dev_split_is_carved_from_train_deterministically():
  cfg = data_config("digits", dev_fraction=0.25)
  a, b = data.load(cfg), data.load(cfg)
  assert len(a["dev"]["targets"]) == 359 and len(a["train"]["targets"]) == 1078
  np.testing.assert_array_equal(a["dev"]["inputs"], b["dev"]["inputs"])
  assert len(a["test"]["targets"]) == 360


def test_standardize_uses_training_statistics():
  splits = data.load(data_config("moons", standardize=True))
  np.testing.assert_allclose(splits["train"]["inputs"].mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(splits["train"]["inputs"].std(0), 1.0, atol=1e-3)
  assert np.abs(splits["test"]["inputs"].mean(0)).max() > 1e-4  # not re-fitted on test


def test_the_first_n_examples_of_a_split_with_fewer_are_the_whole_split():
  # TFDS refuses "train[:5000]" of a 1437-example split; smoke variants ask for it
  assert len(data.load(data_config("digits", train_split="train[:100]"))["train"][
      "targets"]) == 100
  assert len(data.load(data_config("digits", train_split="train[:5000]"))["train"][
      "targets"]) == 1437


def test_a_feature_constant_in_training_is_centred_not_blown_up(tmp_path):
  path = tmp_path / "border.npz"
  x_train = np.array([[0.0, 1.0], [0.0, 3.0]])   # feature 0 is always 0 in training
  np.savez(path, x_train=x_train, y_train=np.array([0, 1]),
           x_test=np.array([[2.0, 2.0]]), y_test=np.array([1]))
  splits = data.load(data_config("border", source="npz", path=str(path),
                                 standardize=True))
  np.testing.assert_allclose(splits["train"]["inputs"], [[0.0, -1.0], [0.0, 1.0]])
  np.testing.assert_allclose(splits["test"]["inputs"], [[2.0, 0.0]])  # not 2e6


def test_npz_user_data(tmp_path):
  rng = np.random.default_rng(0)
  path = tmp_path / "mine.npz"
  x_train = rng.integers(0, 256, (20, 4, 4, 1), dtype=np.uint8)
  np.savez(path, x_train=x_train, y_train=np.arange(20) % 3,
           x_test=rng.integers(0, 256, (6, 4, 4, 1), dtype=np.uint8),
           y_test=np.arange(6) % 3)
  splits = data.load(data_config("mine", source="npz", path=str(path)))
  np.testing.assert_allclose(splits["train"]["inputs"], x_train / 255.0, rtol=1e-6)
  assert splits["test"]["targets"].tolist() == [0, 1, 2, 0, 1, 2]


def test_npz_with_missing_arrays_says_what_it_holds(tmp_path):
  path = tmp_path / "bad.npz"
  np.savez(path, x_train=np.zeros((3, 2)), y_train=np.zeros(3))
  with pytest.raises(data.DataError, match=r"no arrays 'x_test'/'y_test'.*holds \['x_train', 'y_train'\]"):
    data.load(data_config("bad", source="npz", path=str(path)))


def test_npz_without_a_path_and_the_old_npz_name_say_what_to_set(tmp_path):
  with pytest.raises(data.DataError, match="data.source=npz needs --config.data.path="):
    data.load(data_config("mine", source="npz"))
  with pytest.raises(data.DataError, match=r"old form; use --config.data.source=npz "
                     r"--config.data.path=/x/y.npz"):
    data.load(data_config("npz:/x/y.npz"))


def test_absent_tfds_dataset_explains_how_to_prepare_it(tmp_path):
  with pytest.raises(data.DataError) as err:
    data.load(data_config("mnist", source="tfds", data_dir=str(tmp_path)))
  message = str(err.value)
  assert f"not prepared as array_record in {tmp_path}" in message
  assert f"tfds build mnist --file_format=array_record --data_dir={tmp_path}" in message
  assert not list(tmp_path.rglob("*incomplete*")) and not (tmp_path / "downloads").exists()


def test_unknown_dataset_names_list_what_exists():
  with pytest.raises(data.DataError, match="'digitz' is not an embedded dataset "
                     r"\(those are .*digits.*\); for a TFDS dataset prepared as "
                     "array_record set --config.data.source=tfds"):
    data.load(data_config("digitz"))
  with pytest.raises(data.DataError, match="unknown TFDS dataset 'digitz'"):
    data.load(data_config("digitz", source="tfds"))
  with pytest.raises(ConfigError, match="unknown data source 'cvs'; valid: embedded, "
                     "inline, npz, tfds"):
    data.load(data_config("digits", source="cvs"))


def test_target_transforms_keep_the_labels():
  splits = data.load(data_config("digits", target_transform=dict(name="is_class", label=3,
                                                                 negative=-1.0)))
  train = splits["train"]
  assert train["targets"].shape == (1437, 1) and train["targets"].dtype == np.float32
  np.testing.assert_array_equal(train["targets"][:, 0], np.where(train["labels"] == 3, 1, -1))
  presence = np.array([[1, 0, 1], [0, 1, 0]], np.float32)
  np.testing.assert_allclose(data.TARGET_TRANSFORMS.get("normalize")(presence, None),
                             [[0.5, 0, 0.5], [0, 1, 0]])
  with pytest.raises(ConfigError, match="unknown target transform 'is_clas'; valid: "
                     "inputs, is_class, normalize, one_hot"):
    data.load(data_config("digits", target_transform=dict(name="is_clas")))
  with pytest.raises(ConfigError, match="missing 1 required keyword-only argument: 'label'"):
    data.load(data_config("digits", target_transform=dict(name="is_class")))


def test_real_mnist_path_trains_on_tfds_mock_data(tmp_path):
  cfg = experiments.get_config("mnist10k_lenet:smoke")
  cfg.data.source, cfg.data.name = "tfds", "mnist"
  cfg.data.data_dir = str(tmp_path / "tfds")
  cfg.batch_size, cfg.eval_batch_size, cfg.num_steps = 8, 16, 3
  with tfds.testing.mock_data(num_examples=24, policy=tfds.testing.MockPolicy.USE_CODE):
    train_and_evaluate(cfg, tmp_path / "run")
  assert read_latest(tmp_path / "run")[0] == 3
