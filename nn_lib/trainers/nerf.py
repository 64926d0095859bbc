"""The NeRF trainer (notes 000 "Neural Radiance Fields": the network is the 3-D
model of the scene; Mildenhall et al. 2020). An MLP F(gamma(x)) -> (sigma, c) is
fit to the views of an analytic scene (nn_lib.data.scenes) through the volume
rendering of its rays (models.nerf.volume_render, NeRF eq. 3):

  C^(r) = sum_i T_i (1 - exp(-sigma_i delta_i)) c_i + (1 - sum_i w_i) * background
  loss  = mean over a batch of rays r and channels of (C^(r) - C(r))^2

Every training pixel's ray (origin, unit direction, colour) is computed once
(rendering.rays.pinhole_rays); each step draws `batch_size` of them uniformly,
with replacement, and stratified distances t (rays.stratified_samples) in
[nerf.near, nerf.far], both from the key fold_in(key(seed), step): a resumed run
draws what the uninterrupted one drew. Coarse samples only (no hierarchical
fine network): the scene's bounds are tight enough for `num_samples` uniform bins.
The last sample's delta is the bin width, not NeRF's 1e10: the scene ends at `far`
and beyond it lies only the background, which the renderer adds.

Evaluation renders every pixel of the split's views (eval_splits: test = every
`data.test_every`-th view, train = the others) at the bins' midpoints, in chunks
of eval_batch_size rays, and reports psnr (of the pooled MSE) and depth_mae (mean
|sum_i w_i t_i - true depth| over pixels that see a surface). It writes
plots/renders.png (test views above their renders) and plots/depth.png.

The state {step, params, opt_state} is checkpointed; steps run in a jitted loop
that ends at every log/eval/checkpoint step. Config: data.{name, num_views,
image_size, test_every}, model (nerf_mlp kwargs), optimizer, schedule,
nerf.{num_samples, near, far, plot_views}, num_steps, batch_size (rays), eval_batch_size
(rays), log_every, eval_every, checkpoint_every, keep_checkpoints.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

import losses
from nn_lib import config as config_lib
from nn_lib import metrics, models, plots, writers
from nn_lib.data import scenes
from nn_lib.models import nerf as nerf_lib
from nn_lib.plots import nerf as nerf_plots
from nn_lib.registry import ConfigError
from nn_lib.rendering import rays as rays_lib
from nn_lib.trainers import chunks
from nn_lib.training import optim
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.result import Result

_DATA_INT_KEYS = ("num_views", "image_size", "test_every")
# compiled once per process (and shape): eagerly, each of psnr's ops compiles alone
_psnr = jax.jit(metrics.psnr)
_psnr_per_view = jax.jit(jax.vmap(metrics.psnr))


def _is_number(v: Any) -> bool:
  return not isinstance(v, bool) and isinstance(v, (int, float)) and np.isfinite(v)


def validate(cfg: Any) -> None:
  """Every key the NeRF trainer reads, with an error naming the key."""
  config_lib.validate_common(cfg)
  chunks.check_loop_keys(cfg, "nerf", ("model", "optimizer", "schedule", "nerf"))
  for key in _DATA_INT_KEYS:
    if not chunks.positive_int(cfg.data.get(key)):
      raise ConfigError(f"config.data.{key} must be a positive integer, got {cfg.data.get(key)!r}")
  if not 1 < cfg.data.test_every <= cfg.data.num_views:
    raise ConfigError(
      f"config.data.test_every={cfg.data.test_every} must be in 2.."
      f"{cfg.data.num_views} (data.num_views): every test_every-th view is "
      "held out, the rest are trained on"
    )
  scenes.get(cfg.data.name)
  if "dev" in cfg.eval_splits:
    raise ConfigError(
      "config.eval_splits: the nerf trainer evaluates 'train' and 'test' "
      "views only (no dev split); drop 'dev'"
    )
  if cfg.model.get("name") != "nerf_mlp":
    raise ConfigError(
      f"config.model.name={cfg.model.get('name')!r}: the nerf trainer "
      "renders the outputs [sigma, r, g, b] of 'nerf_mlp'; set it"
    )
  if not chunks.positive_int(cfg.nerf.get("num_samples")):
    raise ConfigError(
      f"config.nerf.num_samples must be a positive integer, got {cfg.nerf.get('num_samples')!r}"
    )
  near, far = cfg.nerf.get("near"), cfg.nerf.get("far")
  if not (_is_number(near) and _is_number(far) and 0 <= near < far):
    raise ConfigError(
      f"config.nerf.near={near!r} and config.nerf.far={far!r} must be "
      "numbers with 0 <= near < far (the scene's bounds along each ray, "
      f"e.g. {scenes.NEAR} and {scenes.FAR}: nn_lib/data/scenes.py)"
    )
  plot_views = cfg.nerf.get("plot_views", 8)
  if isinstance(plot_views, bool) or not isinstance(plot_views, int) or plot_views < 0:
    raise ConfigError(
      f"config.nerf.plot_views must be an integer >= 0 (test views drawn "
      f"in plots/renders.png and depth.png; 0: no plots), got {plot_views!r}"
    )
  for part in ("optimizer", "schedule"):
    if not cfg[part].get("name"):
      raise ConfigError(f"config.{part}.name is not set")
  lr = cfg.optimizer.get("learning_rate")
  if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
    raise ConfigError(f"config.optimizer.learning_rate must be a positive number, got {lr!r}")


def load(cfg: Any) -> tuple[scenes.Views, dict[str, dict[str, np.ndarray]], dict]:
  """The scene's views, and per split (train, test) its pixels' rays, colours and
  depths (flat, view after view) and its view indices."""
  v = scenes.views(cfg.data.name, cfg.data.num_views, cfg.data.image_size)
  train_V, test_V = scenes.split_views(cfg.data.num_views, cfg.data.test_every)
  splits = {
    split: {
      "origins": v.origins_VxHxWx3[idx].reshape(-1, 3),
      "directions": v.directions_VxHxWx3[idx].reshape(-1, 3),
      "rgb": v.images_VxHxWx3[idx].reshape(-1, 3),
      "depth": v.depths_VxHxW[idx].reshape(-1),
    }
    for split, idx in (("train", train_V), ("test", test_V))
  }
  return v, splits, {"train": train_V, "test": test_V}


def make_render(cfg: Any, model, background_3: np.ndarray):
  """render(params, origins_Bx3, directions_Bx3, key or None) -> Rendered: the
  model at `num_samples` stratified distances (key None: the bins' midpoints)."""
  near, far, n = float(cfg.nerf.near), float(cfg.nerf.far), cfg.nerf.num_samples
  use_viewdirs = cfg.model.get("use_viewdirs", True)

  def render(params, o_Bx3, d_Bx3, key):
    t_BxN = rays_lib.stratified_samples(key, near, far, n, shape=o_Bx3.shape[:1])
    x_BxNx3 = o_Bx3[:, None, :] + t_BxN[..., None] * d_Bx3[:, None, :]
    if use_viewdirs:  # the same unit direction at every sample of a ray
      x_BxNx3 = jnp.concatenate([x_BxNx3, jnp.broadcast_to(d_Bx3[:, None], x_BxNx3.shape)], -1)
    out_BxNx4 = model.apply({"params": params}, x_BxNx3, train=True)
    return nerf_lib.volume_render(
      out_BxNx4[..., 0],
      out_BxNx4[..., 1:],
      t_BxN,
      background=jnp.asarray(background_3),
      far_delta=(far - near) / n,
    )

  return render


def init_state(cfg: Any, model, tx) -> dict:
  def init():
    x = jnp.zeros((1, 6 if cfg.model.get("use_viewdirs", True) else 3))
    params = model.init(jax.random.PRNGKey(cfg.seed), x)["params"]
    return {"step": jnp.zeros((), jnp.int32), "params": params, "opt_state": tx.init(params)}

  return jax.jit(init)()


def make_train_chunk(cfg: Any, render, tx):
  """jit(state, n, train rays) -> (state after n steps, summed loss). The number of
  steps is a traced loop bound: every chunk length runs one compiled program."""
  batch = cfg.batch_size
  base_key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), 1)  # apart from init's

  def loss_fn(params, o_Bx3, d_Bx3, rgb_Bx3, key):
    return jnp.mean(losses.squared_error(render(params, o_Bx3, d_Bx3, key).rgb, rgb_Bx3))

  def chunk(state, n, rays):
    def one_step(_, carry):
      state, loss_sum = carry
      k_rays, k_t = jax.random.split(jax.random.fold_in(base_key, state["step"]))
      pick_B = jax.random.randint(k_rays, (batch,), 0, rays["rgb"].shape[0])
      loss, grads = jax.value_and_grad(loss_fn)(
        state["params"],
        rays["origins"][pick_B],
        rays["directions"][pick_B],
        rays["rgb"][pick_B],
        k_t,
      )
      updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
      return (
        {
          "step": state["step"] + 1,
          "params": optax.apply_updates(state["params"], updates),
          "opt_state": opt_state,
        },
        loss_sum + loss,
      )

    return jax.lax.fori_loop(0, n, one_step, (state, jnp.zeros((), jnp.float32)))

  return jax.jit(chunk, donate_argnums=0)


def render_all(render_chunk, params, split: dict, chunk: int) -> dict[str, np.ndarray]:
  """rgb_Nx3, depth_N and opacity_N of every ray of `split`, `chunk` rays per call (the last
  call padded to `chunk`: one compiled shape)."""
  n = len(split["origins"])
  pad = -n % chunk
  o = np.concatenate([split["origins"], np.zeros((pad, 3), np.float32)])
  d = np.concatenate([split["directions"], np.tile([[0.0, 0.0, -1.0]], (pad, 1))])
  d = d.astype(np.float32)
  out = [
    jax.device_get(render_chunk(params, o[i : i + chunk], d[i : i + chunk]))
    for i in range(0, n + pad, chunk)
  ]
  return {k: np.concatenate([o_[k] for o_ in out])[:n] for k in ("rgb", "depth", "opacity")}


def evaluate_split(split: dict, rendered: dict) -> dict[str, float]:
  surface_N = np.isfinite(split["depth"])
  depth_err = np.abs(rendered["depth"][surface_N] - split["depth"][surface_N])
  return {
    "psnr": float(_psnr(rendered["rgb"], split["rgb"])),
    "depth_mae": float(np.mean(depth_err)) if depth_err.size else float("nan"),
  }


def _plot(
  cfg: Any,
  workdir: Path,
  step: int,
  test: dict,
  rendered: dict,
  views_V: np.ndarray,
  num_shown: int,
) -> None:
  """plots/renders.png and plots/depth.png of the first `num_shown` test views."""
  size = cfg.data.image_size
  shape = (len(views_V), size, size)
  true_rgb, rgb = test["rgb"].reshape(*shape, 3), rendered["rgb"].reshape(*shape, 3)
  psnrs = np.asarray(_psnr_per_view(rgb, true_rgb))
  shown = slice(0, num_shown)
  nerf_plots.views_and_renders(
    true_rgb[shown],
    rgb[shown],
    workdir / "plots" / "renders.png",
    titles=[f"view {v}: {p:.1f} dB" for v, p in zip(views_V[shown], psnrs)],
    suptitle=f"held-out views (top) and renders (bottom), step {step}",
  )
  # what the rays do not stop they pass to the background, drawn at `far` as in the
  # true depth map (sum_i w_i t_i alone would put empty sky nearest of all)
  depth_N = rendered["depth"] + (1.0 - rendered["opacity"]) * cfg.nerf.far
  nerf_plots.depth_maps(
    test["depth"].reshape(shape)[shown],
    depth_N.reshape(shape)[shown],
    workdir / "plots" / "depth.png",
    near=cfg.nerf.near,
    far=cfg.nerf.far,
    titles=[f"view {v}" for v in views_V[shown]],
  )


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Trains the NeRF of `cfg` in `workdir` (resuming its latest checkpoint)."""
  t0 = time.time()
  validate(cfg)
  writers.quiet_library_logs()
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  model = models.get(**cfg.model)
  tx, _ = optim.make_optimizer(cfg)
  views, splits, view_idx = load(cfg)
  workdir = workdir_lib.prepare(cfg, workdir)

  state = init_state(cfg, model, tx)
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state["params"]))
  logging.info(
    "NeRF: %d parameters, %d training rays; starting at step %d of %d",
    num_params,
    len(splits["train"]["rgb"]),
    start,
    cfg.num_steps,
  )

  render = make_render(cfg, model, views.background_3)
  train_chunk = make_train_chunk(cfg, render, tx)
  train_rays = {k: jnp.asarray(splits["train"][k]) for k in ("origins", "directions", "rgb")}

  @jax.jit
  def render_chunk(params, o_Bx3, d_Bx3):
    r = render(params, o_Bx3, d_Bx3, None)
    return {"rgb": r.rgb, "depth": r.depth, "opacity": r.opacity}

  def render_split(params, split: str) -> dict[str, np.ndarray]:
    return render_all(render_chunk, params, splits[split], cfg.eval_batch_size)

  def nerf_chunk(state, n: int):
    state, loss_sum = train_chunk(state, n, train_rays)
    return state, {"loss": loss_sum / n}

  def evaluate(state, _step: int, split: str) -> dict[str, float]:
    return evaluate_split(splits[split], render_split(state["params"], split))

  # psnr of the chunk's mean MSE: the training curve in the units of the test one
  state, history, steps_per_sec = chunks.run(
    cfg,
    state,
    start=start,
    workdir=workdir,
    checkpointer=checkpointer,
    train_chunk=nerf_chunk,
    evaluate=evaluate,
    fix_hint="Lower config.optimizer.learning_rate.",
    train_extra=lambda m: {**m, "psnr": -10.0 * np.log10(max(m["loss"], 1e-10))},
  )

  final = history.final()
  num_shown = min(cfg.nerf.get("plot_views", 8), len(view_idx["test"]))
  if num_shown and jax.process_index() == 0:
    _plot(
      cfg,
      workdir,
      cfg.num_steps,
      splits["test"],
      render_split(state["params"], "test"),
      view_idx["test"],
      num_shown,
    )

  def predict(rays_Nx6: np.ndarray, method: str | None = None, state=state) -> np.ndarray:
    """rgb_Nx3 of rays [origin, unit direction] (method="depth": expected depth_N)."""
    if method not in (None, "depth"):
      raise ValueError(f"the NeRF predicts colours (method=None) or depth; not {method!r}")
    rays_Nx6 = np.asarray(rays_Nx6, np.float32)
    out = render_all(
      render_chunk,
      state["params"],
      {"origins": rays_Nx6[:, :3], "directions": rays_Nx6[:, 3:]},
      cfg.eval_batch_size,
    )
    return out["rgb"] if method is None else out["depth"]

  result_splits = {
    s: {
      "inputs": np.concatenate([d["origins"], d["directions"]], -1),
      "targets": d["rgb"],
      "depth": d["depth"],
    }
    for s, d in splits.items()
  }
  result = Result(
    cfg=cfg,
    workdir=workdir,
    final=final,
    history=history,
    splits=result_splits,
    state=state,
    model=model,
    predict=predict,
    start_step=start,
    num_params=num_params,
    steps_per_sec=steps_per_sec,
  )
  return workdir_lib.finish(result, t0, plot_fns)
