"""The GAN trainer (notes 000 "Generative Adversarial Networks"; Goodfellow et al.
2014): a generator G(z) and a discriminator D(x) = sigma(logit) play
min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))], trained by alternating updates,
`gan.d_steps` discriminator updates per generator update (Algorithm 1's k):

  D: minimise -log D(x) - log(1 - D(G(z)))            losses.gan_discriminator
     (+ gan.r1_weight / 2 * E_x ||grad_x logit(x)||^2, the R1 penalty, if > 0)
     (gan.real_label = t < 1: one-sided label smoothing, Salimans et al. 2016; real
     x's target is t, -t log D(x) - (1 - t) log(1 - D(x)) = the above + (1 - t) logit(x))
  G: minimise -log D(G(z))    ("nonsaturating")        losses.gan_generator_nonsaturating
     or         log(1 - D(G(z)))  ("minimax")           losses.gan_generator_minimax

Real samples come from a known density sampled on the device each update
(data.source="sampler", nn_lib.data.mixtures) or from a dataset's images scaled to
[-1, 1] (e.g. mnist10k; nn_lib.trainers.gan_data), z ~ N(0, I) of size gan.latent_dim.
Evaluation judges G's samples of fixed z by gan.sample_quality: "modes" (the
density's modes covered) or "mnist_lenet" (a fixed digit classifier's confidence and
class spread: nn_lib.models.pretrained, nn_lib.metrics.sample_quality).

The state is one pytree {step, d_updates, rng, g_params, d_params, g_state, d_state,
g_opt_state, d_opt_state} (+ g_ema): g_state/d_state are the players' batch-norm
statistics ({} without batch norm), updated in train mode and read by G in eval mode
when sampling.

gan.g_ema_decay = beta > 0 samples from an exponential moving average of G's weights
(Yazici et al. 2019), theta_ema <- beta theta_ema + (1 - beta) theta after every G
update; the average's batch-norm statistics are its own "standing statistics"
(Brock et al. 2019), the batch mean and variance of G_ema over gan.eval_samples fixed
z drawn apart from the evaluation's z, since the running averages in g_state belong
to G's own weights. 0 (the default): G's own weights and running averages.

Every random draw is split off `rng`, so a run restored from a checkpoint continues
bit-identically. Steps run `lax.scan`ned in chunks that end at every
log/eval/checkpoint step, so a resumed run sees the same chunks.

Config: generator, discriminator (models.get kwargs), g_optimizer, d_optimizer
(as config.optimizer), schedule, eval_batch_size (z per G call when evaluating),
gan.{latent_dim, d_steps, generator_loss, r1_weight, real_label (default 1),
g_ema_decay (default 0), eval_samples, sample_quality, within_stds,
min_mode_fraction (modes only), plot_snapshots, grid_samples (images:
plots/samples_<step>.png of that many samples at every evaluation; 0: none)},
num_steps, batch_size, log_every, eval_every, checkpoint_every, keep_checkpoints.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging
from jax.typing import ArrayLike

import losses
from nn_lib import models, plots, writers
from nn_lib.models import layers
from nn_lib.registry import ConfigError
from nn_lib.trainers import chunks, gan_data, gan_plots
from nn_lib.trainers.gan_config import GENERATOR_LOSSES, validate
from nn_lib.training import optim
from nn_lib.training import workdir as workdir_lib
from nn_lib.training.checkpoint import Checkpointer
from nn_lib.training.result import Result


def discriminator_loss(real_B: jax.Array, fake_B: jax.Array, real_label: float = 1.0) -> jax.Array:
  """D's mean BCE on its logits, targets `real_label` (t) for real x and 0 for G(z).
  t < 1 is one-sided label smoothing (Salimans et al. 2016): softplus(-r) + (1 - t) r
  = t softplus(-r) + (1 - t) softplus(r), so D gains nothing past D(x) = t."""
  loss = losses.gan_discriminator(real_B, fake_B)
  if real_label != 1.0:
    loss = loss + (1.0 - real_label) * real_B
  return jnp.mean(loss)


def make_optimizer(cfg: Any, part: str, num_updates: int):
  """optim.make_optimizer on config.<part> (g_optimizer or d_optimizer) and
  config.schedule over `num_updates` of that player (D makes d_steps per step)."""
  view = ml_collections.ConfigDict(
    {"optimizer": cfg[part].to_dict(), "schedule": cfg.schedule.to_dict(), "num_steps": num_updates}
  )
  try:
    tx, _ = optim.make_optimizer(view)
  except ConfigError as e:
    raise ConfigError(f"config.{part}: {e}") from e
  return tx


def init_state(cfg: Any, G, D, g_tx, d_tx, sample_shape: tuple[int, ...]) -> dict:
  """The whole training state; its rng is the seed's, split from G's and D's init.
  One jitted call: eager initialization would compile each small op on its own."""

  def variables():
    k_g, k_d, k_train = jax.random.split(jax.random.PRNGKey(cfg.seed), 3)
    return (
      G.init(k_g, jnp.zeros((1, cfg.gan.latent_dim)), train=False),
      D.init(k_d, jnp.zeros((1, *sample_shape)), train=False),
      k_train,
    )

  for part, shapes in zip(("generator", "discriminator"), jax.eval_shape(variables)):
    other = set(shapes) - {"params", "batch_stats"}
    if other:
      raise ConfigError(
        f"config.{part}: the gan trainer keeps parameters and batch-norm "
        f"statistics only; model {cfg[part].name!r} also has "
        f"{sorted(other)}: choose a model without them"
      )

  def init() -> dict:
    g_vars, d_vars, k_train = variables()
    g_vars, d_vars = dict(g_vars), dict(d_vars)
    g_params, d_params = g_vars.pop("params"), d_vars.pop("params")
    state = {
      "step": jnp.zeros((), jnp.int32),
      "d_updates": jnp.zeros((), jnp.int32),
      "rng": k_train,
      "g_params": g_params,
      "d_params": d_params,
      "g_state": g_vars,
      "d_state": d_vars,
      "g_opt_state": g_tx.init(g_params),
      "d_opt_state": d_tx.init(d_params),
    }
    if cfg.gan.get("g_ema_decay", 0.0):
      state["g_ema"] = jax.tree.map(jnp.copy, g_params)
    return state

  return jax.jit(init)()


def standing_statistics(G, params, model_state: dict, z_BxZ: ArrayLike) -> dict:
  """G's batch-norm statistics for `params`: the batch mean and variance of each
  layer over z_BxZ. A train-mode call gives m * old + (1 - m) * batch (momentum m,
  nn_lib.models.layers), so batch = (new - m * old) / (1 - m)."""
  if not model_state:
    return model_state
  m = layers.BN_MOMENTUM
  new = apply(G, params, model_state, z_BxZ, train=True)[1]
  return jax.tree.map(lambda n, o: (n - m * o) / (1.0 - m), new, model_state)


def apply(model, params, model_state: dict, x: ArrayLike, train: bool):
  """(model(x), model_state after it). Train mode normalises by the batch's
  statistics and advances the running averages in `model_state`; eval mode (and a
  model without batch norm, model_state = {}) leaves it as it is."""
  variables = {"params": params, **model_state}
  if train and model_state:
    out, updates = model.apply(variables, x, train=True, mutable=list(model_state))
    return out, {**model_state, **updates}
  return model.apply(variables, x, train=train), model_state


def make_train_chunk(cfg: Any, G, D, g_tx, d_tx, real: gan_data.RealData):
  """jit(state, real.arrays, n) -> (state after n steps, metrics with axis n). One
  step: d_steps discriminator updates, then one generator update, each on fresh
  real samples and fresh z."""
  batch, latent, k = cfg.batch_size, cfg.gan.latent_dim, cfg.gan.d_steps
  gen_loss = GENERATOR_LOSSES[cfg.gan.generator_loss]

  def logit(d_params, d_state, x):
    out, d_state = apply(D, d_params, d_state, x, train=True)
    return out[:, 0], d_state

  r1_weight = cfg.gan.get("r1_weight", 0.0)
  ema = float(cfg.gan.get("g_ema_decay", 0.0))
  real_label = float(cfg.gan.get("real_label", 1.0))

  def d_loss_fn(d_params, d_state, fake_BxD, real_BxD):
    # Real and fake go through D as two batches (Radford et al.): each batch norm
    # normalises one kind, so the statistics themselves do not tell them apart.
    real_B, new_state = logit(d_params, d_state, real_BxD)
    fake_B, new_state = logit(d_params, new_state, fake_BxD)
    loss = discriminator_loss(real_B, fake_B, real_label)
    if r1_weight:
      # R1 (Mescheder et al. 2018): gamma/2 E||grad_x D(x)||^2 on real data keeps D
      # flat where the data are, which damps the players' oscillation around them.
      grad_BxD = jax.grad(lambda x: logit(d_params, d_state, x)[0].sum())(real_BxD)
      loss = loss + 0.5 * r1_weight * jnp.mean(jnp.sum(grad_BxD.reshape(batch, -1) ** 2, axis=-1))
    return loss, (jnp.mean(jax.nn.sigmoid(real_B)), jnp.mean(jax.nn.sigmoid(fake_B)), new_state)

  def g_loss_fn(g_params, g_state, d_params, d_state, z_BxZ):
    fake, g_state = apply(G, g_params, g_state, z_BxZ, train=True)
    # D's statistics of this call are dropped: D's running averages follow its own
    # updates only (and D is only ever applied in train mode anyway).
    return jnp.mean(gen_loss(logit(d_params, d_state, fake)[0])), g_state

  def one_step(arrays, state):
    def d_update(carry, key):
      d_params, d_state, d_opt_state = carry
      k_real, k_z = jax.random.split(key)
      # G is fixed during D's update: its samples carry no gradient, and its
      # statistics advance in its own update only (once per step)
      fake_BxD = jax.lax.stop_gradient(
        apply(
          G,
          state["g_params"],
          state["g_state"],
          jax.random.normal(k_z, (batch, latent)),
          train=True,
        )[0]
      )
      (loss, (d_real, d_fake, d_state)), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
        d_params, d_state, fake_BxD, real.sample(arrays, k_real, batch)
      )
      updates, d_opt_state = d_tx.update(grads, d_opt_state, d_params)
      return (
        (optax.apply_updates(d_params, updates), d_state, d_opt_state),
        (loss, d_real, d_fake),
      )

    rng, k_d, k_g = jax.random.split(state["rng"], 3)
    (d_params, d_state, d_opt_state), (d_loss, d_real, d_fake) = jax.lax.scan(
      d_update,
      (state["d_params"], state["d_state"], state["d_opt_state"]),
      jax.random.split(k_d, k),
    )
    (g_loss, g_state), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
      state["g_params"],
      state["g_state"],
      d_params,
      d_state,
      jax.random.normal(k_g, (batch, latent)),
    )
    updates, g_opt_state = g_tx.update(grads, state["g_opt_state"], state["g_params"])
    new = {
      "step": state["step"] + 1,
      "d_updates": state["d_updates"] + k,
      "rng": rng,
      "g_params": optax.apply_updates(state["g_params"], updates),
      "d_params": d_params,
      "g_state": g_state,
      "d_state": d_state,
      "g_opt_state": g_opt_state,
      "d_opt_state": d_opt_state,
    }
    if ema:
      new["g_ema"] = jax.tree.map(
        lambda a, p: ema * a + (1.0 - ema) * p, state["g_ema"], new["g_params"]
      )
    # D(x), D(G(z)): means over this step's d_steps updates, before each update
    return new, {
      "d_loss": d_loss.mean(),
      "g_loss": g_loss,
      "d_real": d_real.mean(),
      "d_fake": d_fake.mean(),
    }

  def chunk(state, arrays, n: int):
    return jax.lax.scan(lambda s, _: one_step(arrays, s), state, None, length=n)

  return jax.jit(chunk, static_argnums=2, donate_argnums=0)


@workdir_lib.exclusive_workdir
def train_and_evaluate(cfg: Any, workdir: str | Path) -> Result:
  """Trains the GAN of `cfg` in `workdir` (resuming its latest checkpoint)."""
  t0 = time.time()
  validate(cfg)
  writers.quiet_library_logs()
  # by name, before the workdir is touched, so that a bad name fails fast
  plot_fns = {name: plots.PLOTS.get(name) for name in cfg.get("plots", ())}
  real = gan_data.from_config(cfg.data)
  judge = gan_data.make_evaluator(cfg, real)
  G, D = models.get(**cfg.generator), models.get(**cfg.discriminator)
  g_tx = make_optimizer(cfg, "g_optimizer", cfg.num_steps)
  d_tx = make_optimizer(cfg, "d_optimizer", cfg.num_steps * cfg.gan.d_steps)
  workdir = workdir_lib.prepare(cfg, workdir)

  state = init_state(cfg, G, D, g_tx, d_tx, real.shape)
  out_shape = jax.eval_shape(
    lambda p, s: apply(G, p, s, jnp.zeros((1, cfg.gan.latent_dim)), train=False)[0],
    state["g_params"],
    state["g_state"],
  ).shape[1:]
  if out_shape != real.shape:
    raise ConfigError(
      f"config.generator gives samples of shape {out_shape}; the data "
      f"({cfg.data.name}) are {real.shape}: set its num_outputs (or "
      "image_size, channels)"
    )
  checkpointer = Checkpointer(workdir, cfg.keep_checkpoints)
  restored = checkpointer.restore_latest(state)
  state = state if restored is None else restored
  start = int(jax.device_get(state["step"]))
  num_params = sum(
    int(np.prod(x.shape)) for key in ("g_params", "d_params") for x in jax.tree.leaves(state[key])
  )
  logging.info("GAN: %d parameters; starting at step %d of %d", num_params, start, cfg.num_steps)

  train_chunk = make_train_chunk(cfg, G, D, g_tx, d_tx, real)
  # sampling uses G's running batch-norm averages (eval mode), as after training
  generate = jax.jit(lambda g_params, g_state, z: apply(G, g_params, g_state, z, False)[0])
  # Evaluation draws are fixed (the same z and real samples at every evaluation),
  # on the host and apart from training's rng: evaluating changes no training step.
  eval_rng = np.random.default_rng(cfg.seed)
  z_eval = eval_rng.standard_normal((cfg.gan.eval_samples, cfg.gan.latent_dim)).astype(np.float32)
  real_eval = real.sample_host(eval_rng, cfg.gan.eval_samples)
  # drawn after the others, so that they are the same with or without the average
  z_stats = eval_rng.standard_normal(z_eval.shape).astype(np.float32)
  ema_stats = jax.jit(lambda p, s: standing_statistics(G, p, s, z_stats))

  def sampler(state) -> tuple[Any, dict]:
    """(params, batch-norm statistics) that G samples with: G's own, or the moving
    average's with its standing statistics (gan.g_ema_decay)."""
    if "g_ema" not in state:
      return state["g_params"], state["g_state"]
    return state["g_ema"], ema_stats(state["g_ema"], state["g_state"])

  snapshots_dir = workdir / "samples"
  if start == 0 and jax.process_index() == 0:
    shutil.rmtree(snapshots_dir, ignore_errors=True)  # a fresh run's, not a stale one's
    for stale in (workdir / "plots").glob("samples_*.png"):
      stale.unlink()

  # every split is fresh draws of the same density
  def evaluate(state, step: int, _split: str) -> dict[str, float]:
    params, g_state = sampler(state)
    fake_NxD = np.concatenate(
      [
        np.asarray(generate(params, g_state, z_eval[i : i + cfg.eval_batch_size]))
        for i in range(0, len(z_eval), cfg.eval_batch_size)
      ]
    )
    if jax.process_index() == 0:
      gan_plots.save_snapshot(cfg, real, fake_NxD, step, snapshots_dir, workdir / "plots")
    return judge(fake_NxD)

  state, history, steps_per_sec = chunks.run(
    cfg,
    state,
    start=start,
    workdir=workdir,
    checkpointer=checkpointer,
    train_chunk=lambda state, n: train_chunk(state, real.arrays, n),
    evaluate=evaluate,
    fix_hint="Lower config.g_optimizer/d_optimizer.learning_rate.",
  )

  final = history.final()
  snapshots = gan_plots.load_snapshots(snapshots_dir, cfg.num_steps)
  if snapshots and jax.process_index() == 0:
    gan_plots.plot_snapshots(
      cfg, real, snapshots, real_eval, history, workdir / "plots" / "samples.png"
    )

  params, g_state = sampler(state)

  def predict(z_BxZ: np.ndarray, method: str | None = None) -> np.ndarray:
    if method is not None:
      raise ValueError(f"the GAN predicts G(z) only; it has no method {method!r}")
    return np.asarray(generate(params, g_state, jnp.asarray(z_BxZ)))

  result = Result(
    cfg=cfg,
    workdir=workdir,
    final=final,
    history=history,
    state=state,
    model={"generator": G, "discriminator": D},
    predict=predict,
    start_step=start,
    num_params=num_params,
    steps_per_sec=steps_per_sec,
  )
  return workdir_lib.finish(result, t0, plot_fns)
