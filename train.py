"""Trains one experiment: flags -> config -> its trainer (or study) -> Result.

python train.py                                  # the default experiment
python train.py --experiment=mnist10k_lenet --config.optimizer.learning_rate=3e-3
python train.py --experiment=multilabel_digits:softmax,smoke --workdir=/tmp/smoke
python train.py --list
python train.py --experiment=mnist10k_lenet --show_config   # every key, explained
"""

from __future__ import annotations

import gc
import sys

from absl import app, flags, logging
from ml_collections import config_flags

import experiments
from nn_lib.config_help import RENAMED_KEYS

DEFAULT_EXPERIMENT = "digits_mlp"

flags.DEFINE_string(
  "experiment",
  DEFAULT_EXPERIMENT,
  "Experiment name (a module in experiments/), optionally NAME:VARIANT[,VARIANT...].",
)
flags.DEFINE_string(
  "workdir",
  None,
  "Output directory; default runs/<experiment>. "
  "Re-running with the same workdir resumes from its checkpoints.",
)
flags.DEFINE_bool("list", False, "Print every experiment with its description and exit.")
flags.DEFINE_bool(
  "show_config",
  False,
  "Print the experiment's config (with any "
  "--config.KEY=VALUE applied), one key per line with its value and "
  "meaning, and exit.",
)
# Several processes (one per host or per GPU): see launch/ and the README's "Running
# on many machines". One process needs none of these.
flags.DEFINE_bool(
  "distributed",
  False,
  "Join a multi-process run, letting JAX detect "
  "the cluster (Slurm, Cloud TPU VMs, Kubernetes/JobSet, Open MPI).",
)
flags.DEFINE_string(
  "coordinator_address",
  None,
  "HOST:PORT of process 0, for a "
  "multi-process run started by hand (with --num_processes, --process_id).",
)
flags.DEFINE_integer("num_processes", None, "Number of processes in the run.")
flags.DEFINE_integer("process_id", None, "This process's index, 0 .. num_processes-1.")
flags.DEFINE_integer(
  "heartbeat_timeout",
  100,
  "Seconds after which the other processes "
  "of a multi-process run give up on one that stopped responding.",
)
FLAGS = flags.FLAGS

# Every model names its output width num_outputs; num_classes is accepted for it.
_ALIASES = {"model.num_classes": "model.num_outputs"}


def _print_experiments() -> None:
  names = experiments.names()
  width = max(map(len, names))
  for name in names:
    print(f"{name:<{width}}  {experiments.describe(name)}")


def _config_key(config, path: str, names: dict[str, str]) -> str:
  """`path` itself if the config has it, else its alias; exits with a clear message
  naming a mistyped `--config.a.b` key instead of a flag-parser traceback."""
  if path in _ALIASES and not _has_key(config, path) and _has_key(config, _ALIASES[path]):
    return _ALIASES[path]
  if path in RENAMED_KEYS and not _has_key(config, path):
    sys.exit(f"error: --config.{path}: {RENAMED_KEYS[path]}.")
  section = path.split(".", 1)[0]
  if section in _NAMED_SECTIONS and "." in path and not _has_key(config, path):
    _add_default(
      config, section, names.get(section) or config[section].get("name"), path.split(".", 1)[1]
    )
  node = config
  for i, key in enumerate(path.split(".")):
    try:
      node = node[key]
    except (KeyError, TypeError) as e:
      hint = str(e).strip("'\"").split("\\n")[-1].replace("\\", "")
      where = ".".join(["config"] + path.split(".")[:i])
      sys.exit(
        f"error: unknown config key --config.{path}: {where} has no key "
        f"{key!r}. {hint if 'Did you mean' in hint else ''}".rstrip()
      )
  return path


# Sections whose keys are the keyword arguments of the function their `name` picks.
_NAMED_SECTIONS = ("model", "optimizer", "schedule")


def _registry(section: str):
  # pylint: disable=g-import-not-at-top  (only for such keys: imports JAX)
  if section == "model":
    from nn_lib import models

    return models.MODELS
  from nn_lib.training import optim

  return optim.OPTIMIZERS if section == "optimizer" else optim.SCHEDULES


def _add_default(config, section: str, name: str | None, key: str) -> None:
  """An argument of the section's model, optimizer or schedule that the experiment
  leaves at its default (model.dtype, optimizer.b1, schedule.decay_rate) may be set
  too: the key is added with that default, so the flag parser knows its type. The
  name is the one on the command line, if it changes it."""
  import inspect  # pylint: disable=g-import-not-at-top

  try:
    param = inspect.signature(_registry(section).get(name)).parameters.get(key)
  except ValueError:  # an unknown name: validation reports it later
    return
  if param is not None and param.default not in (None, inspect.Parameter.empty):
    with config.unlocked():
      config[section][key] = param.default


def _has_key(config, path: str) -> bool:
  node = config
  for key in path.split("."):
    if not hasattr(node, "keys") or key not in node:
      return False
    node = node[key]
  return True


def _names_set_on(argv: list[str]) -> dict[str, str]:
  """{"optimizer": "notes_adam"} for `--config.optimizer.name=notes_adam`."""
  names = {}
  for arg in argv[1:]:
    key, sep, value = arg.partition("=")
    if sep and key.startswith("--config.") and key.endswith(".name"):
      names[key[len("--config.") : -len(".name")]] = value
  return names


def define_config_flag(argv: list[str]) -> tuple[list[str], config_flags.FlagHolder]:
  """Loads the chosen experiment's config so `--config.a.b=v` can override it."""
  FLAGS(argv, known_only=True)  # reads --experiment before the config exists
  if FLAGS.list:
    _print_experiments()
    sys.exit(0)
  try:
    config = experiments.get_config(FLAGS.experiment)
  except ValueError as e:
    sys.exit(f"error: {e}")
  names = _names_set_on(argv)
  for i, arg in enumerate(argv[1:], start=1):
    if arg.startswith("--config."):
      path, sep, value = arg[len("--config.") :].partition("=")
      argv[i] = f"--config.{_config_key(config, path, names)}{sep}{value}"
  FLAGS.unparse_flags()
  return argv, config_flags.DEFINE_config_dict(
    "config",
    config,
    lock_config=True,
    help_string="The experiment's config; set keys with --config.KEY=VALUE. "
    "--show_config lists every key with its value and meaning.",
  )


def main(argv, config_flag) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if FLAGS.show_config:  # before the heavy imports below: nothing is compiled
    from nn_lib import config as config_lib  # pylint: disable=g-import-not-at-top

    print(f"# experiment {FLAGS.experiment}; set any key with --config.KEY=VALUE")
    print(config_lib.describe(config_flag.value))
    return
  # pylint: disable=g-import-not-at-top  (after flag errors, which need no JAX)
  from nn_lib.training import distributed

  try:  # before anything touches a device
    distributed.initialize(
      distributed.Cluster(
        FLAGS.coordinator_address,
        FLAGS.num_processes,
        FLAGS.process_id,
        auto=FLAGS.distributed,
        heartbeat_timeout_s=FLAGS.heartbeat_timeout,
      )
    )
  except ValueError as e:
    sys.exit(f"error: {e}")
  import jax

  # On a GPU each random draw (every initializer, dropout, augmentation) compiles to
  # one call of jaxlib's Threefry kernel instead of XLA code of 20 unrolled rounds,
  # with the same bits. A GPT-2-small init compiled for 46 s without it (H200), and
  # bench/gpu.sh's throughput part took 65 s with it against over 100 s. No effect
  # on other backends.
  jax.config.update("jax_threefry_gpu_kernel_lowering", True)
  from nn_lib import studies
  from nn_lib.data import DataError
  from nn_lib.registry import ConfigError
  from nn_lib.training import CheckpointWriteError, Interrupted, NonFiniteLossError, WorkdirError

  # The start-up imports are done (see __main__): the collector resumes, and never
  # walks the objects they made (frozen: they live as long as the process).
  gc.freeze()
  gc.enable()
  workdir = FLAGS.workdir or f"runs/{FLAGS.experiment.replace(':', '_').replace(',', '_')}"
  logging.info("experiment %s -> %s", FLAGS.experiment, workdir)
  try:
    result = studies.run(config_flag.value, workdir)
  except Interrupted as e:  # SIGTERM/Ctrl-C, after saving a checkpoint
    print(str(e), file=sys.stderr)
    sys.exit(e.exit_code)
  except (ConfigError, DataError, NonFiniteLossError, WorkdirError, CheckpointWriteError) as e:
    sys.exit(f"error: {e}")
  logging.info(
    "done in %.0f s: %s",
    result.wall_time_s,
    ", ".join(f"{k}={v:.4g}" for k, v in result.final.items() if k.startswith("test/"))
    or "see summary.json",
  )


if __name__ == "__main__":
  # JAX, Flax, Optax, Orbax and TFDS's imports make millions of objects that live
  # for the whole run: the cyclic collector, left on, walks them again and again
  # (0.4 s of a 4 s start on a CPU). Off until main() has imported them.
  gc.disable()
  _argv, _config_flag = define_config_flag(sys.argv)
  app.run(lambda argv: main(argv, _config_flag), argv=_argv)
