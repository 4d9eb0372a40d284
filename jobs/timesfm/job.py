"""TimesFM 2.5 (200M, flax) job: (spec, dataset, weights_dir) -> ModelOutput.

Series forecast: log(High). For sample row t the context is log High over rows t-L+1..t
(L = spec.context_length, the same rows every other model scores, from `sample_rows`); TimesFM
forecasts the 0.1..0.9 quantiles of log High_{t+1..t+H}, and `probability.max_exceedance` turns
them into P(max High_{t+1..t+H} >= (1 + threshold) Close_t) (see probability.py for the method).

Modes (hyper-parameter `mode`):
- 'zero-shot': the checkpoint as is.
- 'fine-tune' (default): optax AdamW on the pinball loss of the 9 quantiles (+ squared error of
  the mean channel) of the first H forecast steps, in TimesFM's RevIN-normalised scale, over
  training windows; validation loss every `eval_every` steps, early stopping after `patience`
  evaluations without improvement, the best parameters restored. `finetune_params`: 'all' or
  'heads' (point + quantile output projections only; the rest frozen).
- 'linear-probe': frozen TimesFM; the output embedding of the last input patch is the
  representation; a logistic head is fitted on training labels for each L2 strength in
  `probe_l2` and the strength with the lowest validation log loss is kept.
"""

import dataclasses
import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jobs.catalog import BY_NAME
from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.dataset import Dataset
from jobs.common.device import jax_device
from jobs.common.errors import JobError
from jobs.common.probe import clip_probability, linear_probe
from jobs.common.windows import sample_rows
from jobs.timesfm.probability import max_exceedance
from jobs.timesfm.weights import resolve_weights
from shared_schema import ExperimentSpec

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "timesfm")


@dataclass(frozen=True)
class Settings:
    mode: str
    max_steps: int
    batch_size: int
    lr: float
    eval_every: int
    patience: int
    max_train_windows: int
    max_val_loss_windows: int
    finetune_params: str
    dependence: str
    flip_invariance: bool
    probe_l2: tuple[float, ...]
    probe_steps: int
    predict_batch_size: int

    @classmethod
    def from_spec(cls, spec: ExperimentSpec) -> "Settings":
        values = BY_NAME[spec.model].resolve(spec)  # jobs/catalog.py: declaration and defaults
        if values["flip_invariance"] is None:  # the package's default for the checkpoint as published
            values["flip_invariance"] = values["mode"] == "zero-shot"
        values["probe_l2"] = tuple(values["probe_l2"])
        return cls(**values)


@dataclass(frozen=True)
class SplitSeries:
    """Samples of one split: log-High contexts (n, L), future log Highs (n, H), thresholds c (n,)."""

    context: np.ndarray
    future: np.ndarray
    c: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    rows: np.ndarray

    def take(self, index) -> "SplitSeries":
        return SplitSeries(
            self.context[index], self.future[index], self.c[index], self.y[index], self.dates[index], self.rows[index]
        )


def build_series(dataset: Dataset, spec: ExperimentSpec) -> dict[str, SplitSeries]:
    """The rows every model scores (`sample_rows` with the spec's context length)."""
    import pandas as pd

    frame = dataset.frame
    high = frame["high"].to_numpy(dtype=np.float64)
    close = frame["close"].to_numpy(dtype=np.float64)
    if not (np.all(high > 0) and np.all(close > 0)):
        raise JobError("TimesFM forecasts log(high): the dataset has non-positive high/close prices")
    log_high = np.log(high)
    target = frame[f"target_h{spec.horizon}"].to_numpy()
    dates = pd.to_datetime(frame["date"]).dt.date.to_numpy()
    offsets = np.arange(-spec.context_length + 1, 1)
    ahead = np.arange(1, spec.horizon + 1)
    out = {}
    for split in ("train", "val", "test"):
        rows = sample_rows(frame, split, spec.horizon, spec.context_length)
        if len(rows) == 0:
            raise JobError(f"no usable {split} samples for horizon {spec.horizon} and context {spec.context_length}")
        # Usable rows have a label, so rows t+1..t+H exist (used as fine-tuning targets only).
        out[split] = SplitSeries(
            context=log_high[rows[:, None] + offsets[None, :]].astype(np.float32),
            future=log_high[rows[:, None] + ahead[None, :]].astype(np.float32),
            c=np.log(close[rows]) + np.log1p(spec.threshold),
            y=target[rows].astype(np.int8),
            dates=dates[rows],
            rows=rows,
        )
    return out


def _recent(series: SplitSeries, limit: int) -> SplitSeries:
    return series.take(slice(-limit, None)) if limit and len(series.y) > limit else series


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


class Runner:
    """Holds the loaded model and the jitted functions of one job."""

    def __init__(self, wrapper, spec: ExperimentSpec, settings: Settings):
        from jobs.timesfm import model as tfm_model

        self.tfm_model = tfm_model
        self.wrapper = wrapper
        self.spec = spec
        self.settings = settings
        self._compiled = False

    @property
    def module(self):
        return self.wrapper.model

    # -- zero-shot style forecasting through the package's compiled API ---------------------------
    def forecast_channels(self, series: SplitSeries) -> np.ndarray:
        """(n, H, 10) of log High_{t+1..t+H} from the package's `forecast`: channel 0 the mean head,
        channels 1..9 the 0.1..0.9 quantiles."""
        if not self._compiled:  # nnx splits the module at each call: fine-tuned values are used
            fc = self.tfm_model.forecast_config(self.spec.context_length, use_flip=self.settings.flip_invariance)
            fc = dataclasses.replace(fc, per_core_batch_size=self.settings.predict_batch_size)
            self.wrapper.compile(fc, dryrun=False)
            self._compiled = True
        inputs = [row.astype(np.float64) for row in series.context]  # `forecast` pads this list in place
        _, channels = self.wrapper.forecast(horizon=self.spec.horizon, inputs=inputs)
        return np.asarray(channels[:, : self.spec.horizon, :10], dtype=np.float64)

    def probabilities(self, series: SplitSeries) -> tuple[np.ndarray, np.ndarray]:
        """P(hit) from the quantiles, and the point score from the mean head of the same forecast:
        max_k mean_k - log(Close_t) - log(1 + threshold)."""
        channels = self.forecast_channels(series)
        p = max_exceedance(channels[..., 1:10], series.c, dependence=self.settings.dependence, seed=self.spec.seed)
        return clip_probability(p), channels[..., 0].max(axis=-1) - series.c

    # -- differentiable forward (fine-tune, probe) ------------------------------------------------
    def padded(self, context: np.ndarray):
        return self.tfm_model.pad_left(context, self.module.p)

    def embeddings(self, series: SplitSeries) -> np.ndarray:
        import jax
        from flax import nnx

        graphdef, state = nnx.split(self.module)

        @jax.jit
        def embed(state, values, masks):
            module = nnx.merge(graphdef, state)
            return self.tfm_model.forward(module, values, masks)[0]

        size = self.settings.predict_batch_size
        values, masks = self.padded(series.context)
        chunks = []
        for start, stop in _batches(len(values), size):
            v, m = values[start:stop], masks[start:stop]
            pad = size - len(v)
            if pad:
                v = np.concatenate([v, np.repeat(v[-1:], pad, 0)])
                m = np.concatenate([m, np.repeat(m[-1:], pad, 0)])
            chunks.append(np.asarray(embed(state, v, m))[: stop - start])
        return np.concatenate(chunks).astype(np.float64)


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
    val_sub = _recent(val, settings.max_val_loss_windows)
    vv, vm = runner.padded(val_sub.context)

    def validation(trainable) -> float:
        total, count = 0.0, 0
        for start, stop in _batches(len(vv), size):
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


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, *, steps: int, seed: int) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression, full-batch Adam in JAX. Returns (w, b)."""
    import jax
    import jax.numpy as jnp
    import optax

    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    def loss(params):
        w, b = params
        logits = xj @ w + b
        return optax.sigmoid_binary_cross_entropy(logits, yj).mean() + 0.5 * l2 * jnp.sum(w * w)

    optimizer = optax.adam(0.05)
    params = (
        jnp.zeros(x.shape[1], jnp.float32),
        jnp.asarray(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3)), jnp.float32),
    )
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        grads = jax.grad(loss)(params)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(steps):
        params, state = step(params, state)
    return np.asarray(params[0], np.float64), float(params[1])


def probe(runner: Runner, series: dict[str, SplitSeries], settings: Settings, seed: int):
    """The output embedding of the last input patch -> logistic head (jobs.common.probe.linear_probe)."""
    train = _recent(series["train"], settings.max_train_windows)
    if len(np.unique(train.y)) < 2:
        raise JobError("linear-probe needs both classes among the training windows")
    chosen = {"train": train, "val": series["val"], "test": series["test"]}
    test_seconds: list[float] = []

    def embed(name: str) -> np.ndarray:
        started = time.perf_counter()
        embeddings = runner.embeddings(chosen[name])
        if name == "test":  # the test split is embedded only after selection: that is its prediction time
            test_seconds.append(time.perf_counter() - started)
        return embeddings

    probs, choice = linear_probe(
        embed=embed,
        train_y=train.y,
        val_y=series["val"].y,
        strengths=settings.probe_l2,
        fit=lambda x, y, l2: fit_logistic(x, y.astype(np.float64), l2, steps=settings.probe_steps, seed=seed),
    )
    info = {
        "probe_l2": choice.l2,
        "probe_val_log_loss": choice.val_log_loss,
        "probe_features": int(choice.weights.size),
        "representation": "output embedding of the last input patch",
    }
    return probs, len(train.y), info, test_seconds[0]


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir)  # fails fast, before JAX is imported
    series = build_series(dataset, spec)

    from jobs.timesfm import model as tfm_model

    device = jax_device(spec.device)  # before JAX is first imported: it may pin the CPU backend
    started = time.perf_counter()
    wrapper = tfm_model.load_model(resolved)
    runner = Runner(wrapper, spec, settings)
    n_parameters = tfm_model.count_parameters(wrapper.model)
    notes: dict = {
        "mode": settings.mode,
        "series": "log(high)",
        "dependence": settings.dependence,
        "flip_invariance": settings.flip_invariance,
        "context_length": spec.context_length,
        "point_score": "mean head of the same forecast: max log(High/Close_t) over t+1..t+H - log(1+threshold)",
        "padded_context": int(tfm_model.pad_left(series["val"].context[:1])[0].shape[1]),
        "architecture": "TimesFM 2.5 200M" if resolved.arch is None else f"TimesFM 2.5 reduced {resolved.arch}",
    }
    load_seconds = time.perf_counter() - started

    train_started = time.perf_counter()
    if settings.mode == "zero-shot":
        n_train = len(series["train"].y)
        notes["n_train_note"] = "zero-shot: no training windows were used; n_train counts those available"
        train_seconds = 0.0
        predict_started = time.perf_counter()
        (p_val, point_val), (p_test, point_test) = (
            runner.probabilities(series["val"]),
            runner.probabilities(series["test"]),
        )
    elif settings.mode == "fine-tune":
        train = _recent(series["train"], settings.max_train_windows)
        n_train = len(train.y)
        notes.update(fine_tune(runner, train, series["val"], settings, seed=spec.seed))
        train_seconds = time.perf_counter() - train_started
        predict_started = time.perf_counter()
        (p_val, point_val), (p_test, point_test) = (
            runner.probabilities(series["val"]),
            runner.probabilities(series["test"]),
        )
    else:
        probs, n_train, info, probe_predict_seconds = probe(runner, series, settings, spec.seed)
        notes.update(info)
        train_seconds = time.perf_counter() - train_started - probe_predict_seconds
        predict_started = time.perf_counter() - probe_predict_seconds
        p_val, p_test = probs["val"], probs["test"]
        n_parameters += int(info["probe_features"]) + 1
        (_, point_val), (_, point_test) = runner.probabilities(series["val"]), runner.probabilities(series["test"])
    predict_seconds = time.perf_counter() - predict_started
    notes["load_seconds"] = round(load_seconds, 3)
    notes = {k: v for k, v in notes.items() if not (isinstance(v, float) and not np.isfinite(v))}
    return ModelOutput(
        val=SplitPredictions(series["val"].dates, series["val"].y, p_val, point_val),
        test=SplitPredictions(series["test"].dates, series["test"].y, p_test, point_test),
        n_parameters=n_parameters,
        n_train=max(int(n_train), 1),
        weights=resolved.source,
        train_seconds=train_seconds,
        predict_seconds=predict_seconds,
        device=device,
        packages=PACKAGES,
        notes=notes,
    )
