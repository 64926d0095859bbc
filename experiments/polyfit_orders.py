"""Polynomial regression of orders 1, 2, 3, 4, 12 by gradient descent: under- vs over-fitting (notes 001)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import ml_collections
import numpy as np
from numpy.polynomial import legendre

from experiments import _base, _sweep
from nn_lib import data as data_lib
from nn_lib.data import regression
from nn_lib.plots import classification as plots

REPORT = dict(task="regression (scalar -> scalar)", output="identity",
              loss="squared error", model="polynomial of order 1, 2, 3, 4, 12",
              data="polyfit: sin(pi x) + noise, 15 train / 1000 test points",
              metric="best_test_order",
              bar="3 or 4 (lowest test error), while order 12 has the lowest train error")


def get_config(variant=None):
  c = _base.base_config()
  c.data.name = "polyfit"
  c.orders = (1, 2, 3, 4, 12)  # one sub-run each; model.order is set per sub-run
  c.model = dict(name="polynomial", order=12, kernel_init="zeros")
  c.loss = dict(name="squared_error")
  # Full-batch Adam with a cosine decay: 1,000 steps reach the closed-form
  # least-squares fit of every order to float32 precision (the table's last
  # columns show the closed-form errors next to gradient descent's).
  c.optimizer = dict(name="adam", learning_rate=0.05)
  c.schedule = dict(name="cosine", warmup_steps=0)
  c.num_steps = 1000
  c.batch_size = 15  # the whole training split
  c.eval_batch_size = 500
  c.log_every = 100
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.keep_checkpoints = 1
  c.metrics = ("mse",)
  c = _base.apply_variant(c, variant)
  if variant == "smoke":
    c.batch_size = 15
    c.orders = (3, 12)  # each order is a whole sub-run; two exercise the sweep
  return c


def _closed_form_mse(x_train, y_train, x_test, y_test, order: int) -> tuple[float, float]:
  """Train and test MSE of the exact least-squares fit (the check on gradient descent)."""
  coef = np.linalg.lstsq(legendre.legvander(x_train, order), y_train, rcond=None)[0]
  mse = lambda x, y: float(np.mean((legendre.legvander(x, order) @ coef - y) ** 2))
  return mse(x_train, y_train), mse(x_test, y_test)


def _table(rows: list[dict]) -> str:
  lines = ["| order | train MSE | test MSE | closed-form train MSE | closed-form test MSE |",
           "|---:|---:|---:|---:|---:|"]
  lines += [f"| {r['order']} | {r['train_mse']:.5f} | {r['test_mse']:.5f} | "
            f"{r['closed_form_train_mse']:.5f} | {r['closed_form_test_mse']:.5f} |"
            for r in rows]
  return "\n".join(lines) + "\n"


def run(cfg: ml_collections.ConfigDict, workdir: Path) -> dict:
  """Trains one polynomial per order (sub-workdirs order_KK/), then writes the
  table (polyfit_table.md/.json), plots/polyfit.png and summary.json."""
  start = time.time()
  workdir = Path(workdir)
  orders = tuple(int(k) for k in cfg.orders)
  if not orders or min(orders) < 1:
    raise ValueError(f"config.orders must be positive integers, got {cfg.orders}")
  splits = data_lib.load(cfg.data)
  (x_tr, y_tr), (x_te, y_te) = ((splits[s]["inputs"], splits[s]["targets"])
                                for s in ("train", "test"))
  x_curve = np.linspace(-1.0, 1.0, 400, dtype=np.float32)
  rows, fits = [], {}
  for order in orders:
    state, model = _sweep.train(_sweep.derive(cfg, **{"model.order": order}),
                                workdir / f"order_{order:02d}")
    # One call for all three input sets (each call of an eager model costs alike).
    pred = _sweep.predict(model, state, np.concatenate([x_tr, x_te, x_curve[:, None]]))
    pred_tr, pred_te, fits[order] = np.split(pred[:, 0], [len(x_tr), len(x_tr) + len(x_te)])
    cf_train, cf_test = _closed_form_mse(x_tr[:, 0], y_tr[:, 0], x_te[:, 0], y_te[:, 0], order)
    rows.append(dict(order=order, train_mse=float(np.mean((pred_tr - y_tr[:, 0]) ** 2)),
                     test_mse=float(np.mean((pred_te - y_te[:, 0]) ** 2)),
                     closed_form_train_mse=cf_train, closed_form_test_mse=cf_test))

  (workdir / "polyfit_table.md").write_text(_table(rows))
  (workdir / "polyfit_table.json").write_text(json.dumps(rows, indent=2))
  plots.polyfit(x_tr[:, 0], y_tr[:, 0], x_curve, regression.polyfit_curve(x_curve), fits,
                {r["order"]: (r["train_mse"], r["test_mse"]) for r in rows},
                workdir / "plots" / "polyfit.png")
  best_train = min(rows, key=lambda r: r["train_mse"])
  best_test = min(rows, key=lambda r: r["test_mse"])
  final = {"best_train_order": best_train["order"], "best_test_order": best_test["order"],
           "test/loss": best_test["test_mse"]}
  for r in rows:
    final[f"order{r['order']}/train/mse"] = r["train_mse"]
    final[f"order{r['order']}/test/mse"] = r["test_mse"]
  _sweep.write_summary(workdir, final, time.time() - start)
  return {"rows": rows}
