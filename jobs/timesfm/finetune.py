"""Fine-tuning TimesFM ('fine-tune' mode): optax AdamW on the pinball loss of the 9 quantiles
(+ squared error of the mean channel) of the first H forecast steps, in TimesFM's RevIN-normalised
scale, over training windows; validation loss every `eval_every` steps, early stopping after
`patience` evaluations without improvement, the best parameters restored. `finetune_params`: 'all'
or 'heads' (point + quantile output projections only; the rest frozen)."""

import functools
from dataclasses import dataclass

import numpy as np

from jobs.timesfm.data import SplitSeries, batches, recent
from jobs.timesfm.runner import Runner
from jobs.timesfm.settings import Settings


def quantile_loss_fn(tfm_model, graphdef, horizon: int):
    """Pinball loss of quantiles 0.1..0.9 + squared error of the mean, first H steps, RevIN scale."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    levels = jnp.asarray([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])

    def loss(trainable, rest, values, masks, future):
        # Rebuild the frozen state's Variables at this trace level (jax.grad passes it through as is).
        rest = jax.tree_util.tree_map(lambda x: x, rest)
        module = nnx.merge(graphdef, trainable, rest)
        _, out, mu, sigma = tfm_model.forward(module, values, masks)
        scale = jnp.where(sigma < 1e-6, 1.0, sigma)
        target = (future - mu[:, None]) / scale[:, None]  # (b, H)
        pred = out[:, :horizon, :]  # (b, H, 10)
        err = target[..., None] - pred[..., 1:]
        pinball = jnp.maximum(levels * err, (levels - 1.0) * err).mean()
        mse = jnp.square(target - pred[..., 0]).mean()
        return pinball + 0.5 * mse

    return loss


@dataclass
class Trainer:
    """Everything one optax fine-tuning step needs; `step` is jitted."""

    trainable: object
    rest: object
    opt_state: object
    step: object
    eval_loss: object
    n_trainable: int


def make_trainer(module, horizon: int, lr: float, finetune_params: str) -> Trainer:
    import jax
    import optax
    from flax import nnx

    from jobs.timesfm import model as tfm_model

    if finetune_params == "heads":
        trainable_filter = nnx.All(
            nnx.Param,
            nnx.Any(nnx.PathContains("output_projection_point"), nnx.PathContains("output_projection_quantiles")),
        )
    else:
        trainable_filter = nnx.Param
    graphdef, trainable, rest = nnx.split(module, trainable_filter, ...)
    loss = quantile_loss_fn(tfm_model, graphdef, horizon)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(lr, weight_decay=0.0))

    # trainable and opt_state are donated: their buffers are reused for the updated ones.
    @functools.partial(jax.jit, donate_argnums=(0, 2))
    def step(trainable, rest, opt_state, values, masks, future):
        value, grads = jax.value_and_grad(loss)(trainable, rest, values, masks, future)
        updates, opt_state = optimizer.update(grads, opt_state, trainable)
        return optax.apply_updates(trainable, updates), opt_state, value

    n_trainable = int(sum(x.size for x in jax.tree_util.tree_leaves(trainable)))
    return Trainer(trainable, rest, optimizer.init(trainable), step, jax.jit(loss), n_trainable)


def fine_tune(runner: Runner, train: SplitSeries, val: SplitSeries, settings: Settings, *, seed: int) -> dict:
    import jax
    from flax import nnx

    module = runner.module
    trainer = make_trainer(module, runner.spec.horizon, settings.lr, settings.finetune_params)
    trainable, rest, opt_state, step = trainer.trainable, trainer.rest, trainer.opt_state, trainer.step
    n_trainable = trainer.n_trainable
    eval_loss = trainer.eval_loss
    size = settings.batch_size
    tv, tm = runner.padded(train.context)
    val_sub = recent(val, settings.max_val_loss_windows)
    vv, vm = runner.padded(val_sub.context)

    def validation(trainable) -> float:
        total, count = 0.0, 0
        for start, stop in batches(len(vv), size):
            if stop - start < size:  # fixed shapes: the last partial batch is taken from the end
                start, stop = max(0, len(vv) - size), len(vv)
            value = float(eval_loss(trainable, rest, vv[start:stop], vm[start:stop], val_sub.future[start:stop]))
            total, count = total + value * (stop - start), count + (stop - start)
        return total / count

    rng = np.random.default_rng(seed)

    def snapshot(state):  # a copy that survives the donation of `trainable` to the next step
        return jax.tree_util.tree_map(lambda x: x.copy(), state)

    best = initial = validation(trainable)
    best_state, best_step, bad, history = snapshot(trainable), 0, 0, []
    order = np.array([], dtype=int)
    steps_done = 0
    for step_index in range(1, settings.max_steps + 1):
        if len(order) < size:
            order = np.concatenate([order, rng.permutation(len(tv))])
        batch, order = order[:size], order[size:]
        if len(batch) < size:  # fewer training windows than one batch
            batch = rng.choice(len(tv), size=size, replace=True)
        trainable, opt_state, value = step(trainable, rest, opt_state, tv[batch], tm[batch], train.future[batch])
        history.append(float(value))
        steps_done = step_index
        if step_index % settings.eval_every == 0 or step_index == settings.max_steps:
            current = validation(trainable)
            if current < best - 1e-6:
                best, best_state, best_step, bad = current, snapshot(trainable), step_index, 0
            else:
                bad += 1
                if bad >= settings.patience:
                    break
    nnx.update(module, best_state)
    return {
        "finetune_params": settings.finetune_params,
        "trainable_parameters": n_trainable,
        "initial_val_loss": float(initial),
        "steps": steps_done,
        "best_step": best_step,
        "best_val_loss": float(best),
        "first_train_loss": history[0] if history else float("nan"),
        "last_train_loss": history[-1] if history else float("nan"),
    }
