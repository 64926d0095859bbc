"""Demo sweep: the learning rate of digits_mlp (Adam), log-uniform in [1e-5, 1].

Two rounds of 10 trials: round 1 covers the five decades, round 2 samples the log
range spanned by the 3 best so far (widened by a quarter of its width per side).
The trials train 500 steps (the experiment's default is 1500) and are chosen on a
dev split (20% of train, evaluated with test), not on the test set.

  python launch/sweep.py --spec=launch/sweeps/digits_mlp_lr.py --parallel 2
"""

SPEC = dict(
  experiment="digits_mlp",
  params={"optimizer.learning_rate": ("log", 1e-5, 1.0)},
  overrides={"num_steps": 500, "data.dev_fraction": 0.2, "eval_splits": ("dev", "test")},
  metric="dev/accuracy",
  mode="max",
  trials=10,
  rounds=2,
  zoom_top=3,
  pad=0.25,
  seed=0,
)
