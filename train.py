"""Trains one experiment: flags -> config -> nn_lib.training.run.

  python train.py                                  # the default experiment
  python train.py --experiment=mnist10k_lenet --config.optimizer.learning_rate=3e-3
  python train.py --experiment=digits_mlp:smoke --workdir=/tmp/smoke
  python train.py --list
"""
from __future__ import annotations

import sys

from absl import app, flags, logging
from ml_collections import config_flags

import experiments

DEFAULT_EXPERIMENT = "digits_mlp"

flags.DEFINE_string("experiment", DEFAULT_EXPERIMENT,
                    "Experiment name (a module in experiments/), optionally NAME:VARIANT.")
flags.DEFINE_string("workdir", None, "Output directory; default runs/<experiment>. "
                    "Re-running with the same workdir resumes from its checkpoints.")
flags.DEFINE_bool("list", False, "Print every experiment with its description and exit.")
FLAGS = flags.FLAGS


def _print_experiments() -> None:
  names = experiments.names()
  width = max(map(len, names))
  for name in names:
    print(f"{name:<{width}}  {experiments.describe(name)}")


def _check_override_keys(config, argv: list[str]) -> None:
  """Names a mistyped `--config.a.b` key clearly instead of a flag-parser traceback."""
  for arg in argv[1:]:
    if not arg.startswith("--config."):
      continue
    path = arg[len("--config."):].split("=", 1)[0]
    node = config
    for i, key in enumerate(path.split(".")):
      try:
        node = node[key]
      except (KeyError, TypeError) as e:
        hint = str(e).strip("'\"").split("\\n")[-1].replace("\\", "")
        where = ".".join(["config"] + path.split(".")[:i])
        sys.exit(f"error: unknown config key --config.{path}: {where} has no key "
                 f"{key!r}. {hint if 'Did you mean' in hint else ''}".rstrip())


def _define_config_flag(argv: list[str]):
  """Loads the chosen experiment's config so `--config.a.b=v` can override it."""
  FLAGS(argv, known_only=True)  # reads --experiment before the config exists
  if FLAGS.list:
    _print_experiments()
    sys.exit(0)
  try:
    hooks, config = experiments.get_config(FLAGS.experiment)
  except ValueError as e:
    sys.exit(f"error: {e}")
  _check_override_keys(config, argv)
  FLAGS.unparse_flags()
  return hooks, config_flags.DEFINE_config_dict("config", config, lock_config=True)


def main(argv, hooks, config_flag) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  from nn_lib import training  # pylint: disable=g-import-not-at-top  (after flag errors)
  from nn_lib.config import ConfigError  # pylint: disable=g-import-not-at-top
  from nn_lib.data import DataError  # pylint: disable=g-import-not-at-top

  name = FLAGS.experiment.replace(":", "_")
  workdir = FLAGS.workdir or f"runs/{name}"
  logging.info("experiment %s -> %s", FLAGS.experiment, workdir)
  try:
    training.run(config_flag.value, workdir, hooks=hooks)
  except (ConfigError, DataError) as e:
    sys.exit(f"error: {e}")
  except training.NonFiniteLossError as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  _hooks, _config_flag = _define_config_flag(sys.argv)
  app.run(lambda argv: main(argv, _hooks, _config_flag))
