"""Gradient check of an experiment's model + loss + regularizer (notes 004).

Compares jax.grad of the training objective J (mean loss + regularization) with the
two-sided differences (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps), in
float64 with dropout off, at the experiment's random initialization, on the first
--num_examples training examples, and prints the relative error
||d_approx - d|| / (||d_approx|| + ||d||) overall and per parameter array, worst
first. Bands: great < 1e-7 <= check <= 1e-3 < wrong.

  python launch/gradcheck.py --experiment=digits_mlp
  python launch/gradcheck.py --experiment=digits_mlp:smoke --config.model.batch_norm=true
  python launch/gradcheck.py --experiment=digits_mlp --config.regularizer.l2=1e-3
  python launch/gradcheck.py --experiment=toy2d_moons --max_params=0  # all parameters
  python launch/gradcheck.py --list

--config.KEY=VALUE overrides any key of the experiment's config, as in train.py.
Exit status: 0 when the verdict is great or check, 1 when it is wrong or the
check cannot run (the message says why).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python launch/gradcheck.py`, Python puts launch/ first on sys.path; the
# repository root goes there instead, so `experiments`, `losses` and `nn_lib` are
# the repository's packages and no script folder can shadow them.
_REPO = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
  sys.path[0] = str(_REPO)
else:
  sys.path.insert(0, str(_REPO))

from absl import app, flags  # noqa: E402  pylint: disable=wrong-import-position

import train  # noqa: E402  (its --experiment/--list/--config.KEY handling)

flags.declare_key_flag("experiment")
flags.declare_key_flag("list")
flags.declare_key_flag("show_config")
flags.DEFINE_integer(
  "num_examples",
  8,
  "Training examples in the checked batch (J is their mean loss; a few suffice).",
  lower_bound=1,
)
flags.DEFINE_integer(
  "max_params",
  5000,
  "Check at most this many parameters, drawn at "
  "random (seeded, shared equally among the parameter arrays); 0 "
  "checks every parameter.",
  lower_bound=0,
)
flags.DEFINE_float("eps", 1e-7, "Step of the two-sided difference (the notes' 1e-7).")
flags.DEFINE_integer(
  "seed",
  None,
  "Seed of the initialization and of the sampled parameters; default: the config's seed.",
)
FLAGS = flags.FLAGS

# train.py's flags used here; its others (--workdir, ...) are refused, not ignored.
_SHARED = ("experiment", "list", "show_config", "config")


def main(argv: list[str], config_flag) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  used = [
    f"--{flag.name}"
    for flag in FLAGS.get_flags_for_module(train)
    if flag.present and flag.name not in _SHARED
  ]
  if used:
    raise app.UsageError(f"{', '.join(used)}: train.py flags; gradcheck trains nothing")
  if FLAGS.show_config:
    from nn_lib import config as config_lib  # pylint: disable=g-import-not-at-top

    print(config_lib.describe(config_flag.value))
    return
  # pylint: disable=g-import-not-at-top  (after flag errors, which need no JAX)
  from nn_lib import gradcheck
  from nn_lib.data import DataError
  from nn_lib.registry import ConfigError

  print(f"# experiment {FLAGS.experiment}")
  try:
    report = gradcheck.check_config(
      config_flag.value,
      num_examples=FLAGS.num_examples,
      max_params=FLAGS.max_params or None,
      eps=FLAGS.eps,
      seed=FLAGS.seed,
    )
  except (gradcheck.GradCheckError, ConfigError, DataError) as e:
    sys.exit(f"error: {e}")
  print(report)
  if not report.passed:
    sys.exit(1)


if __name__ == "__main__":
  _argv, _config_flag = train.define_config_flag(sys.argv)
  app.run(lambda argv: main(argv, _config_flag), argv=_argv)
