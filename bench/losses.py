"""Benchmark: value-and-grad time of every loss in ``losses`` that optax has an
equivalent for, against optax, in the same process on the same inputs.

Run: ``python bench/losses.py [--repeats N] [--scale S]``. For each pair both
functions are wrapped as ``jit(value_and_grad(mean(loss)))`` w.r.t. the
predictions, compiled and warmed up, then timed in interleaved rounds (ours,
optax, ours, ...; each sample ~20 ms of back-to-back calls ending in
``block_until_ready``); the table reports the median per-call time over the
rounds and ratio = ours / optax (< 1 means we are faster). Goal: every
ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import losses  # noqa: E402

OL = optax.losses


def _inputs(scale):
  r = np.random.default_rng(0)
  b, c = int(2048 * scale), 512
  f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
  d = {
    "z": f32(r.normal(size=(b, c)) * 2),
    "y": f32(r.normal(size=(b, c))),
    "u": f32(r.uniform(0.01, 0.99, size=(b, c))),
    "labels": jnp.asarray(r.integers(0, c, size=b)),
    "pm1": f32(np.sign(r.normal(size=(b, c)))),
    "img": f32(r.normal(size=(int(16 * scale), 64, 64, 4))),
    "emb": f32(r.normal(size=(int(8192 * scale), 128))),
    "emb_p": f32(r.normal(size=(int(8192 * scale), 128))),
    "emb_n": f32(r.normal(size=(int(8192 * scale), 128))),
    "ctc_z": f32(r.normal(size=(int(16 * scale), 64, 32))),
  }
  d["probs"] = jax.nn.softmax(d["y"])
  d["binary"] = f32(r.integers(0, 2, size=(b, c)))
  d["pair_labels"] = jnp.asarray(np.repeat(np.arange(int(512 * scale)), 2).astype(np.int32))
  d["onehot"] = jax.nn.one_hot(r.integers(0, 4, size=d["img"].shape[:-1]), 4)
  lab = r.integers(1, 32, size=(d["ctc_z"].shape[0], 16))
  lengths = r.integers(8, 17, size=(d["ctc_z"].shape[0], 1))
  d["ctc_labels"] = jnp.asarray(np.where(np.arange(16) < lengths, lab, -1))
  return d


def pairs(d):
  """name -> (ours(x, *aux), optax(x, *aux), x, aux): aux are runtime inputs
  (targets are jit arguments, as in a training step, not folded constants)."""
  z, y, u, lab = d["z"], d["y"], d["u"], d["labels"]
  ctc_lpad = jnp.zeros(d["ctc_z"].shape[:2])
  n = z.shape[-1]
  return {
    "squared_error": (losses.squared_error, OL.squared_error, z, (y,)),
    "huber": (
      lambda x, t: losses.huber(x, t, delta=0.5),
      lambda x, t: OL.huber_loss(x, t, delta=0.5),
      z,
      (y,),
    ),
    "smooth_l1 (vs huber/beta)": (
      lambda x, t: losses.smooth_l1(x, t, beta=0.5),
      lambda x, t: OL.huber_loss(x, t, delta=0.5) / 0.5,
      z,
      (y,),
    ),
    "log_cosh": (losses.log_cosh, OL.log_cosh, z, (y,)),
    "sigmoid_binary_cross_entropy": (
      losses.sigmoid_binary_cross_entropy,
      OL.sigmoid_binary_cross_entropy,
      z,
      (u,),
    ),
    "softmax_cross_entropy": (
      losses.softmax_cross_entropy,
      OL.softmax_cross_entropy,
      z,
      (d["probs"],),
    ),
    "softmax_cross_entropy_with_integer_labels": (
      losses.softmax_cross_entropy_with_integer_labels,
      OL.softmax_cross_entropy_with_integer_labels,
      z,
      (lab,),
    ),
    "  ... label_smoothing=0.1 (optax: smooth_labels + CE)": (
      lambda x, l: losses.softmax_cross_entropy_with_integer_labels(x, l, label_smoothing=0.1),
      lambda x, l: OL.softmax_cross_entropy(x, OL.smooth_labels(jax.nn.one_hot(l, n), 0.1)),
      z,
      (lab,),
    ),
    "kl_divergence": (
      losses.kl_divergence,
      lambda x, t: OL.kl_divergence(jax.nn.log_softmax(x), t),
      z,
      (d["probs"],),
    ),
    "binary_hinge": (losses.binary_hinge, OL.hinge_loss, z, (d["pm1"],)),
    "crammer_singer_hinge": (losses.crammer_singer_hinge, OL.multiclass_hinge_loss, z, (lab,)),
    "sigmoid_focal": (
      lambda x, t: losses.sigmoid_focal(x, t, gamma=2.0, alpha=0.25),
      lambda x, t: OL.sigmoid_focal_loss(x, t, alpha=0.25, gamma=2.0),
      z,
      (u,),
    ),
    "dice (multiclass)": (
      losses.dice,
      lambda x, t: OL.dice_loss(x, t, smooth=0.5),
      d["img"],
      (d["onehot"],),
    ),
    "tversky (multiclass)": (
      lambda x, t: losses.tversky(x, t, alpha=0.3, beta=0.7),
      lambda x, t: OL.dice_loss(x, t, alpha=0.3, beta=0.7),
      d["img"],
      (d["onehot"],),
    ),
    "triplet_margin": (
      losses.triplet_margin,
      OL.triplet_margin_loss,
      d["emb"],
      (d["emb_p"], d["emb_n"]),
    ),
    "poly_loss_cross_entropy": (
      losses.poly_loss_cross_entropy,
      OL.poly_loss_cross_entropy,
      z,
      (d["probs"],),
    ),
    "generalized_kl_divergence": (
      losses.generalized_kl_divergence,
      OL.generalized_kl_divergence,
      y,
      (u,),
    ),
    "multiclass_sparsemax_loss": (
      losses.multiclass_sparsemax_loss,
      OL.multiclass_sparsemax_loss,
      z,
      (lab,),
    ),
    "sparsemax_loss": (losses.sparsemax_loss, OL.sparsemax_loss, z, (d["binary"],)),
    "cosine_distance": (losses.cosine_distance, OL.cosine_distance, d["emb"], (d["emb_p"],)),
    "ntxent (1024 embeddings, pairs)": (
      losses.ntxent,
      OL.ntxent,
      d["emb"][: d["pair_labels"].shape[0]],
      (d["pair_labels"],),
    ),
    "generalized_dice (optax vmapped per example)": (
      lambda x, t: losses.generalized_dice(x, t, smooth=0.5),
      jax.vmap(lambda x, t: OL.multiclass_generalized_dice_loss(x[None], t[None], smooth=0.25)),
      d["img"],
      (d["onehot"],),
    ),
    "ctc": (
      lambda x, l: losses.ctc(x, l),
      lambda x, l: OL.ctc_loss(x, ctc_lpad, jnp.maximum(l, 0), (l < 0).astype(jnp.float32)),
      d["ctc_z"],
      (d["ctc_labels"],),
    ),
  }


def _compile(fn):
  return jax.jit(jax.value_and_grad(lambda x, *aux: jnp.mean(fn(x, *aux))))


def _time(f, x, aux, inner=1):
  """Seconds per call, averaged over ``inner`` back-to-back calls."""
  t = time.perf_counter()
  for _ in range(inner):
    out = f(x, *aux)
  jax.block_until_ready(out)
  return (time.perf_counter() - t) / inner


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  ap.add_argument("--repeats", type=int, default=30)
  ap.add_argument("--scale", type=float, default=1.0)
  ap.add_argument("--only", default=None, help="substring filter on names")
  args = ap.parse_args(argv)
  d = _inputs(args.scale)
  print(
    f"jax {jax.__version__}, optax {optax.__version__}, "
    f"backend {jax.default_backend()}, {jax.device_count()} device(s); "
    f"median of {args.repeats} interleaved rounds"
  )
  print(f"{'loss':55s} {'ours ms':>9s} {'optax ms':>9s} {'ratio':>7s}")
  worst = 0.0
  for name, (ours, theirs, x, aux) in pairs(d).items():
    if args.only and args.only not in name:
      continue
    fo, ft = _compile(ours), _compile(theirs)
    (vo, go), (vt, gt) = fo(x, *aux), ft(x, *aux)
    scale = 2.0 if name.startswith("dice") else 1.0  # optax smooths s / 2
    np.testing.assert_allclose(vo, vt, rtol=2e-3 * scale, atol=1e-4)
    np.testing.assert_allclose(go, gt, rtol=2e-2, atol=1e-6)
    for _ in range(3):  # warm up
      _time(fo, x, aux), _time(ft, x, aux)
    # calls per sample so that one sample takes ~20 ms (less timer noise)
    inner = max(1, int(0.02 / max(_time(ft, x, aux), 1e-6)))
    to, tt = [], []
    for _ in range(args.repeats):
      to.append(_time(fo, x, aux, inner))
      tt.append(_time(ft, x, aux, inner))
    mo, mt = statistics.median(to), statistics.median(tt)
    worst = max(worst, mo / mt)
    flag = "" if mo / mt <= 1.05 else "  <-- slower than optax by > 5%"
    print(f"{name:55s} {1e3 * mo:9.3f} {1e3 * mt:9.3f} {mo / mt:7.3f}{flag}", flush=True)
  print(f"worst ratio {worst:.3f}")


if __name__ == "__main__":
  main()
