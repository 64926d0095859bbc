"""The GAN trainer (notes 000 "Generative Adversarial Networks"; Goodfellow et al.
2014): a generator G(z) and a discriminator D(x) = sigma(logit) play
min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))], trained by alternating updates,
`gan.d_steps` discriminator updates per generator update (Algorithm 1's k):

  D: minimise -log D(x) - log(1 - D(G(z)))            losses.gan_discriminator
     (+ gan.r1_weight / 2 * E_x ||grad_x logit(x)||^2, the R1 penalty, if > 0)
  G: minimise -log D(G(z))    ("nonsaturating")        losses.gan_generator_nonsaturating
     or         log(1 - D(G(z)))  ("minimax")           losses.gan_generator_minimax

Real samples come from a known density sampled on the device each update
(config.data.name, nn_lib.data.mixtures), z ~ N(0, I) of size gan.latent_dim.

The state is one pytree {step, d_updates, rng, g_params, d_params, g_opt_state,
d_opt_state}: every random draw is split off its `rng`, so a run restored from a
checkpoint continues bit-identically. Steps run `lax.scan`ned in chunks that end
at every log/eval/checkpoint step, so a resumed run sees the same chunks.

Config: generator, discriminator (models.get kwargs), g_optimizer, d_optimizer
(as config.optimizer), schedule, eval_batch_size (z per G call when evaluating),
gan.{latent_dim, d_steps, generator_loss, r1_weight, eval_samples, within_stds,
min_mode_fraction, plot_snapshots}, num_steps, batch_size, log_every, eval_every,
checkpoint_every, keep_checkpoints.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging

import losses
from nn_lib import config as config_lib
from nn_lib import models, plots, writers
from nn_lib.data import mixtures
from nn_lib.plots import samples as samples_plot
from nn_lib.registry import ConfigError
from nn_lib.training import optim
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.loop import NonFiniteLossError
from nn_lib.training.preemption import Interrupted, StopRequests
from nn_lib.training.result import Result

GENERATOR_LOSSES: dict[str, Callable[..., jax.Array]] = {
    "nonsaturating": losses.gan_generator_nonsaturating,  # -log D(G(z))
    "minimax": losses.gan_generator_minimax,              # log(1 - D(G(z)))
}
_INT_KEYS = ("num_steps", "batch_size", "eval_batch_size", "log_every", "eval_every", "checkpoint_every",
             "keep_checkpoints")
_GAN_INT_KEYS = ("latent_dim", "d_steps", "eval_samples", "plot_snapshots")


def validate(cfg: Any) -> None:
  """Every key the GAN trainer reads, with an error naming the key."""
  config_lib.validate_common(cfg)
  missing = [k for k in ("generator", "discriminator", "g_optimizer", "d_optimizer",
                         "schedule", "gan", *_INT_KEYS) if k not in cfg]
  if missing:
    raise ConfigError(f"the gan trainer needs config key(s) {missing}")
  positive = lambda v: not isinstance(v, bool) and isinstance(v, int) and v > 0
  for key in _INT_KEYS:
    if not positive(cfg[key]):
      raise ConfigError(f"config.{key} must be a positive integer, got {cfg[key]!r}")
  for key in _GAN_INT_KEYS:
    if not positive(cfg.gan.get(key)):
      raise ConfigError(f"config.gan.{key} must be a positive integer, got "
                        f"{cfg.gan.get(key)!r}")
  if cfg.gan.get("generator_loss") not in GENERATOR_LOSSES:
    raise ConfigError(f"config.gan.generator_loss={cfg.gan.get('generator_loss')!r} is "
                      f"not a generator loss; valid: {', '.join(GENERATOR_LOSSES)}")
  r1 = cfg.gan.get("r1_weight", 0.0)
  if isinstance(r1, bool) or not isinstance(r1, (int, float)) or r1 < 0:
    raise ConfigError(f"config.gan.r1_weight must be a number >= 0 (0: no penalty), "
                      f"got {r1!r}")
  for key in ("within_stds", "min_mode_fraction"):
    value = cfg.gan.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
      raise ConfigError(f"config.gan.{key} must be a positive number, got {value!r}")
  for part in ("generator", "discriminator", "g_optimizer", "d_optimizer", "schedule"):
    if not cfg[part].get("name"):
      raise ConfigError(f"config.{part}.name is not set")
  for part in ("g_optimizer", "d_optimizer"):
    lr = cfg[part].get("learning_rate")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
      raise ConfigError(f"config.{part}.learning_rate must be a positive number, got {lr!r}")


def make_optimizer(cfg: Any, part: str, num_updates: int):
  """optim.make_optimizer on config.<part> (g_optimizer or d_optimizer) and
  config.schedule over `num_updates` of that player (D makes d_steps per step)."""
  view = ml_collections.ConfigDict(dict(optimizer=cfg[part].to_dict(),
                                        schedule=cfg.schedule.to_dict(),
                                        num_steps=num_updates))
  try:
    tx, _ = optim.make_optimizer(view)
  except ConfigError as e:
    raise ConfigError(f"config.{part}: {e}") from e
  return tx


def init_state(cfg: Any, G, D, g_tx, d_tx, data_dim: int) -> dict:
  """The whole training state; its rng is the seed's, split from G's and D's init.
  One jitted call: eager initialization would compile each small op on its own."""
  def variables():
    k_g, k_d, k_train = jax.random.split(jax.random.PRNGKey(cfg.seed), 3)
    return (G.init(k_g, jnp.zeros((1, cfg.gan.latent_dim)), train=False),
            D.init(k_d, jnp.zeros((1, data_dim)), train=False), k_train)

  for part, shapes in zip(("generator", "discriminator"), jax.eval_shape(variables)):
    if set(shapes) != {"params"}:
      raise ConfigError(f"config.{part}: the gan trainer keeps parameters only; model "
                        f"{cfg[part].name!r} has state {sorted(set(shapes) - {'params'})}"
                        " (e.g. batch norm statistics): turn it off")

  def init() -> dict:
    g_vars, d_vars, k_train = variables()
    return {"step": jnp.zeros((), jnp.int32), "d_updates": jnp.zeros((), jnp.int32),
            "rng": k_train, "g_params": g_vars["params"], "d_params": d_vars["params"],
            "g_opt_state": g_tx.init(g_vars["params"]),
            "d_opt_state": d_tx.init(d_vars["params"])}
  return jax.jit(init)()


def make_train_chunk(cfg: Any, G, D, g_tx, d_tx, mixture: mixtures.Mixture):
  """jit(state, n) -> (state after n steps, metrics with axis n). One step: d_steps
  discriminator updates, then one generator update, each on fresh real samples
  and fresh z."""
  batch, latent, k = cfg.batch_size, cfg.gan.latent_dim, cfg.gan.d_steps
  gen_loss = GENERATOR_LOSSES[cfg.gan.generator_loss]
  generate = lambda g_params, z: G.apply({"params": g_params}, z, train=True)
  logit = lambda d_params, x: D.apply({"params": d_params}, x, train=True)[:, 0]

  r1_weight = cfg.gan.get("r1_weight", 0.0)

  def d_loss_fn(d_params, fake_BxD, real_BxD):
    real_B, fake_B = logit(d_params, real_BxD), logit(d_params, fake_BxD)
    loss = jnp.mean(losses.gan_discriminator(real_B, fake_B))
    if r1_weight:
      # R1 (Mescheder et al. 2018): gamma/2 E||grad_x D(x)||^2 on real data keeps D
      # flat where the data are, which damps the players' oscillation around them.
      grad_BxD = jax.grad(lambda x: logit(d_params, x).sum())(real_BxD)
      loss = loss + 0.5 * r1_weight * jnp.mean(jnp.sum(grad_BxD ** 2, axis=-1))
    return loss, (jnp.mean(jax.nn.sigmoid(real_B)), jnp.mean(jax.nn.sigmoid(fake_B)))

  def g_loss_fn(g_params, d_params, z_BxZ):
    return jnp.mean(gen_loss(logit(d_params, generate(g_params, z_BxZ))))

  def d_update(carry, key):
    d_params, d_opt_state, g_params = carry
    k_real, k_z = jax.random.split(key)
    # G is fixed during D's update: its samples carry no gradient
    fake_BxD = jax.lax.stop_gradient(
        generate(g_params, jax.random.normal(k_z, (batch, latent))))
    (loss, (d_real, d_fake)), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
        d_params, fake_BxD, mixture.sample(k_real, batch))
    updates, d_opt_state = d_tx.update(grads, d_opt_state, d_params)
    return ((optax.apply_updates(d_params, updates), d_opt_state, g_params),
            (loss, d_real, d_fake))

  def one_step(state, _):
    rng, k_d, k_g = jax.random.split(state["rng"], 3)
    (d_params, d_opt_state, _), (d_loss, d_real, d_fake) = jax.lax.scan(
        d_update, (state["d_params"], state["d_opt_state"], state["g_params"]),
        jax.random.split(k_d, k))
    g_loss, grads = jax.value_and_grad(g_loss_fn)(
        state["g_params"], d_params, jax.random.normal(k_g, (batch, latent)))
    updates, g_opt_state = g_tx.update(grads, state["g_opt_state"], state["g_params"])
    new = {"step": state["step"] + 1, "d_updates": state["d_updates"] + k, "rng": rng,
           "g_params": optax.apply_updates(state["g_params"], updates),
           "d_params": d_params, "g_opt_state": g_opt_state, "d_opt_state": d_opt_state}
    # D(x), D(G(z)): means over this step's d_steps updates, before each update
    return new, {"d_loss": d_loss.mean(), "g_loss": g_loss, "d_real": d_real.mean(),
                 "d_fake": d_fake.mean()}

  def chunk(state, n: int):
    return jax.lax.scan(one_step, state, None, length=n)

  return jax.jit(chunk, static_argnums=1, donate_argnums=0)


def _next_boundary(done: int, cfg: Any) -> int:
  """The next step (after `done`) at which the loop logs, evaluates or saves."""
  nxt = [(done // e + 1) * e for e in (cfg.log_every, cfg.eval_every, cfg.checkpoint_every)]
  return min(*nxt, cfg.num_steps)


def _load_snapshots(directory: Path, up_to: int) -> dict[int, np.ndarray]:
  return {int(p.stem): np.load(p) for p in directory.glob("*.npy")
          if p.stem.isdigit() and int(p.stem) <= up_to}


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Trains the GAN of `cfg` in `workdir` (resuming its latest checkpoint)."""
  t0 = time.time()
  validate(cfg)
  writers.quiet_library_logs()
  # by name, before the workdir is touched, so that a bad name fails fast
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  mixture = mixtures.from_config(cfg.data)
  G, D = models.get(**cfg.generator), models.get(**cfg.discriminator)
  g_tx = make_optimizer(cfg, "g_optimizer", cfg.num_steps)
  d_tx = make_optimizer(cfg, "d_optimizer", cfg.num_steps * cfg.gan.d_steps)
  workdir = workdir_lib.prepare(cfg, workdir)

  state = init_state(cfg, G, D, g_tx, d_tx, mixture.dim)
  out_dim = jax.eval_shape(lambda p: G.apply({"params": p}, jnp.zeros((1, cfg.gan.latent_dim))),
                           state["g_params"]).shape[-1]
  if out_dim != mixture.dim:
    raise ConfigError(f"config.generator gives samples of size {out_dim}; the data "
                      f"({cfg.data.name}) has {mixture.dim}: set its num_outputs")
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(int(np.prod(x.shape)) for key in ("g_params", "d_params")
                   for x in jax.tree.leaves(state[key]))
  logging.info("GAN: %d parameters; starting at step %d of %d", num_params, start,
               cfg.num_steps)

  train_chunk = make_train_chunk(cfg, G, D, g_tx, d_tx, mixture)
  generate = jax.jit(lambda g_params, z: G.apply({"params": g_params}, z, train=False))
  # Evaluation draws are fixed (the same z and real samples at every evaluation),
  # on the host and apart from training's rng: evaluating changes no training step.
  eval_rng = np.random.default_rng(cfg.seed)
  z_eval = eval_rng.standard_normal((cfg.gan.eval_samples, cfg.gan.latent_dim)
                                    ).astype(np.float32)
  real_eval = mixture.sample_host(eval_rng, cfg.gan.eval_samples)
  snapshots_dir = workdir / "samples"
  if start == 0 and jax.process_index() == 0:
    shutil.rmtree(snapshots_dir, ignore_errors=True)  # a fresh run's, not a stale one's

  def evaluate(state, step: int) -> dict[str, float]:
    fake_NxD = np.concatenate([
        np.asarray(generate(state["g_params"], z_eval[i:i + cfg.eval_batch_size]))
        for i in range(0, len(z_eval), cfg.eval_batch_size)])
    if jax.process_index() == 0:
      snapshots_dir.mkdir(parents=True, exist_ok=True)
      np.save(snapshots_dir / f"{step}.npy", fake_NxD)
    return mixtures.mode_metrics(fake_NxD, mixture.centers_MxD, mixture.std,
                                 within_stds=cfg.gan.within_stds,
                                 min_mode_fraction=cfg.gan.min_mode_fraction)

  writer = writers.MetricWriter(workdir, num_steps=cfg.num_steps, start_step=start,
                                enabled=jax.process_index() == 0)
  rates: list[float] = []
  done = start
  try:
    with StopRequests() as stop:
      while done < cfg.num_steps:
        n, t_chunk = _next_boundary(done, cfg) - done, time.time()
        state, metrics = train_chunk(state, n)
        metrics = jax.device_get(metrics)
        done += n
        for name, values in metrics.items():
          if not np.all(np.isfinite(values)):
            raise NonFiniteLossError(
                f"{name} is not finite in steps {done - n + 1}..{done}; stopping without "
                "saving this state. Lower config.g_optimizer/d_optimizer.learning_rate.")
        rates.append(n / max(time.time() - t_chunk, 1e-9))
        writer.write(done, "train", {k: float(np.mean(v)) for k, v in metrics.items()},
                     steps_per_sec=rates[-1])
        is_last = done == cfg.num_steps
        if done % cfg.eval_every == 0 or is_last:
          for split in cfg.eval_splits:  # every split is fresh draws of the same density
            writer.write(done, split, evaluate(state, done))
        save_now = done % cfg.checkpoint_every == 0 or is_last
        if save_now:
          checkpointer.save(done, state)
        writer.advance(done)
        if stop.requested(done, checkpointer.reached_preemption):
          if not save_now:
            checkpointer.save(done, state)
          checkpointer.wait()
          raise Interrupted(stop.signum, done, str(workdir))
    checkpointer.wait()
  finally:
    checkpointer.close()
    writer.close()

  final = writer.history.final()
  snapshots = _load_snapshots(snapshots_dir, cfg.num_steps)
  if snapshots and jax.process_index() == 0:
    steps = sorted(snapshots)
    idx = np.unique(np.linspace(0, len(steps) - 1, cfg.gan.plot_snapshots).round().astype(int))
    shown = {steps[i]: snapshots[steps[i]] for i in idx}
    titles = {s: f"step {s}: {final_modes(writer.history, s)}" for s in shown}
    samples_plot.samples_over_steps(
        shown, real_eval, workdir / "plots" / "samples.png", titles=titles,
        suptitle=f"{cfg.data.name}: generated (red) over real (grey)")

  def predict(z_BxZ: np.ndarray, method: str | None = None, state=state) -> np.ndarray:
    if method is not None:
      raise ValueError(f"the GAN predicts G(z) only; it has no method {method!r}")
    return np.asarray(generate(state["g_params"], jnp.asarray(z_BxZ)))

  result = Result(cfg=cfg, workdir=workdir, final=final, history=writer.history,
                  state=state, model={"generator": G, "discriminator": D},
                  predict=predict, start_step=start, num_params=num_params,
                  steps_per_sec=float(np.median(rates[1:])) if len(rates) > 1 else None)
  return workdir_lib.finish(result, t0, plot_fns)


def final_modes(history: writers.History, step: int) -> str:
  """'k/M modes, q% within' of the first eval split at `step`, for a plot title."""
  values = {r["name"]: r["value"] for r in history.rows
            if r["step"] == step and r["split"] != "train"}
  if "modes_covered" not in values:
    return ""
  return (f"{values['modes_covered']:.0f} modes, "
          f"{100 * values['high_quality_fraction']:.0f}% within")
