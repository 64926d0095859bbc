"""Notes 001's under- and over-fitting study: polynomials of several orders fit to
the same 15 noisy points by gradient descent, next to their least-squares optimum.

`config.orders` lists the orders (one run each, "order_K" sub-workdirs). Writes
polyfit_table.md/.json and plots/polyfit.png; the summary names the order with the
lowest train error and the one with the lowest test error.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.polynomial import legendre

from nn_lib import config as config_lib
from nn_lib.data import regression
from nn_lib.plots import classification as plots
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.result import Result
from nn_lib.studies.compare import train_each


def closed_form_mse(x_train, y_train, x_test, y_test, order: int) -> tuple[float, float]:
  """Train and test MSE of the exact least-squares fit (the check on gradient descent)."""
  coef = np.linalg.lstsq(legendre.legvander(x_train, order), y_train, rcond=None)[0]
  mse = lambda x, y: float(np.mean((legendre.legvander(x, order) @ coef - y) ** 2))
  return mse(x_train, y_train), mse(x_test, y_test)


def _table(rows: list[dict]) -> str:
  lines = [
    "| order | train MSE | test MSE | closed-form train MSE | closed-form test MSE |",
    "|---:|---:|---:|---:|---:|",
  ]
  lines += [
    f"| {r['order']} | {r['train_mse']:.5f} | {r['test_mse']:.5f} | "
    f"{r['closed_form_train_mse']:.5f} | {r['closed_form_test_mse']:.5f} |"
    for r in rows
  ]
  return "\n".join(lines) + "\n"


def polyfit_orders(cfg: Any, workdir: str | Path) -> Result:
  """Trains one polynomial per order in `config.orders` and compares their errors."""
  t0 = time.time()
  config_lib.validate_common(cfg)
  orders = tuple(int(k) for k in cfg.orders)
  if not orders or min(orders) < 1:
    raise config_lib.ConfigError(f"config.orders must be positive integers, got {cfg.orders}")
  workdir = workdir_lib.prepare(cfg, workdir)
  runs = train_each(cfg, workdir, "model.order", orders)
  splits = next(iter(runs.values())).splits  # every run reads the same data
  (x_tr, y_tr), (x_te, y_te) = (
    (splits[s]["inputs"][:, 0], splits[s]["targets"][:, 0]) for s in ("train", "test")
  )
  x_curve = np.linspace(-1.0, 1.0, 400, dtype=np.float32)
  rows: list[dict[str, Any]] = []
  fits: dict[int, np.ndarray] = {}
  for order, run in zip(orders, runs.values()):
    # One call for all three input sets: each call of a small model costs alike.
    assert run.predict is not None  # the supervised trainer's runs predict
    pred = run.predict(np.concatenate([x_tr, x_te, x_curve])[:, None])[:, 0]
    pred_tr, pred_te, fits[order] = np.split(pred, [len(x_tr), len(x_tr) + len(x_te)])
    cf_train, cf_test = closed_form_mse(x_tr, y_tr, x_te, y_te, order)
    rows.append(
      dict(
        order=order,
        train_mse=float(np.mean((pred_tr - y_tr) ** 2)),
        test_mse=float(np.mean((pred_te - y_te) ** 2)),
        closed_form_train_mse=cf_train,
        closed_form_test_mse=cf_test,
      )
    )

  (workdir / "polyfit_table.md").write_text(_table(rows))
  workdir_lib.write_json_atomic(workdir / "polyfit_table.json", rows)
  plots.polyfit(
    x_tr,
    y_tr,
    x_curve,
    regression.polyfit_curve(x_curve),
    fits,
    {r["order"]: (r["train_mse"], r["test_mse"]) for r in rows},
    workdir / "plots" / "polyfit.png",
  )
  best_test = min(rows, key=lambda r: r["test_mse"])
  final = {
    "best_train_order": min(rows, key=lambda r: r["train_mse"])["order"],
    "best_test_order": best_test["order"],
    "test/loss": best_test["test_mse"],
  }
  for r in rows:
    final[f"order{r['order']}/train/mse"] = r["train_mse"]
    final[f"order{r['order']}/test/mse"] = r["test_mse"]
  return workdir_lib.finish(Result(cfg=cfg, workdir=workdir, final=final, runs=runs), t0)
