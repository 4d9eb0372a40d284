"""Timer job: (spec, dataset, weights_dir) -> ModelOutput, in the torch environment.

Series: log(High). For sample row t (the rows every model scores, `sample_rows` with the spec's
context length) Timer reads the `lookback_patches * 96` values of log High ending at t (the model
needs whole 96-day patches, so it sees more history than the 80-day window; rows with less
history are left-padded with their first value and counted in the notes).

Point forecast, every mode: the autoregressive forecast of log High over t+1..t+H, and
    point_score = max_k forecast_k - log(Close_t) - log(1 + threshold)
(> 0: the forecast path reaches the barrier). It is written beside p as `point_score`.

p, by mode (hyper-parameter `mode`, see the catalog, jobs/catalog.py):
- 'zero-shot': the checkpoint as is; p = sigmoid(a * point_score + b), (a, b) fitted on the
  training samples (a monotone map: p ranks windows exactly as point_score does).
- 'fine-tune': the published next-patch MSE objective on training segments, early stopping on
  the next-patch MSE of validation segments; then p as in zero-shot (the calibration's training
  scores are in-sample for the fine-tuned model; the notes say so).
- 'linear-probe': the frozen model's last-token embedding -> L2 logistic regression fitted on the
  training labels, strength chosen on validation log loss.
The test split is forecast once, after every fit and choice.
"""

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.dataset import Dataset
from jobs.common.device import torch_device
from jobs.common.errors import JobError
from jobs.common.finetune import fit_early_stopping
from jobs.common.probe import linear_probe, require_both_classes, sigmoid
from jobs.common.runner import thread_count
from jobs.common.settings import SpecSettings
from jobs.common.windows import sample_rows
from jobs.timer.model import TimerForPrediction, ar_loss, forecast, normalise
from jobs.timer.weights import load_published, resolve_weights
from jobs.torch_models.trainer import make_deterministic
from shared_schema import ExperimentSpec

PACKAGES = ("torch", "safetensors")
GRAD_CLIP = 1.0
CALIBRATION_L2 = 1e-4


@dataclass(frozen=True)
class Settings(SpecSettings):
    mode: str
    lookback_patches: int
    max_steps: int
    batch_size: int
    lr: float
    eval_every: int
    patience: int
    max_train_windows: int
    max_val_segments: int
    probe_l2: tuple[float, ...]
    predict_batch_size: int


@dataclass(frozen=True)
class Samples:
    """One split's sample rows and what scoring them needs."""

    rows: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    barrier: np.ndarray  # log(Close_t) + log(1 + threshold)

    def recent(self, limit: int) -> "Samples":
        if not limit or len(self.rows) <= limit:
            return self
        part = slice(-limit, None)
        return Samples(self.rows[part], self.y[part], self.dates[part], self.barrier[part])


def _log_high(dataset: Dataset) -> np.ndarray:
    frame = dataset.frame
    high, close = frame["high"].to_numpy(np.float64), frame["close"].to_numpy(np.float64)
    if not (np.all(high > 0) and np.all(close > 0)):
        raise JobError("Timer forecasts log(high): the dataset has non-positive high/close prices")
    return np.log(high)


def _samples(dataset: Dataset, spec: ExperimentSpec) -> dict[str, Samples]:
    import pandas as pd

    frame = dataset.frame
    close = frame["close"].to_numpy(np.float64)
    target = frame[f"target_h{spec.horizon}"].to_numpy()
    dates = pd.to_datetime(frame["date"]).dt.date.to_numpy()
    out = {}
    for split in ("train", "val", "test"):
        rows = sample_rows(frame, split, spec.horizon, spec.context_length)
        if len(rows) == 0:
            raise JobError(f"no usable {split} samples for horizon {spec.horizon}")
        out[split] = Samples(
            rows, target[rows].astype(np.int8), dates[rows], np.log(close[rows]) + math.log1p(spec.threshold)
        )
    return out


def lookbacks(series: np.ndarray, ends: np.ndarray, length: int) -> torch.Tensor:
    """(n, length) values ending at each index in `ends` (inclusive); before the first value, the first value."""
    index = np.clip(ends[:, None] + np.arange(-length + 1, 1)[None, :], 0, None)
    return torch.from_numpy(series[index].astype(np.float32))


class Scorer:
    """The loaded model, the series and the batch/device settings of one job."""

    def __init__(
        self, model: TimerForPrediction, series: np.ndarray, settings: Settings, *, horizon: int, device: torch.device
    ):
        self.model, self.series, self.settings, self.horizon, self.device = model, series, settings, horizon, device
        self.length = settings.lookback_patches * model.config.input_token_len

    def _batches(self, rows: np.ndarray):
        for start in range(0, len(rows), self.settings.predict_batch_size):
            yield lookbacks(self.series, rows[start : start + self.settings.predict_batch_size], self.length).to(
                self.device
            )

    @torch.no_grad()
    def point_scores(self, samples: Samples) -> np.ndarray:
        self.model.eval()
        # widened on the CPU: MPS has no float64 (jobs/common/device.py)
        paths = [forecast(self.model, batch, self.horizon).cpu().double() for batch in self._batches(samples.rows)]
        return torch.cat(paths).max(dim=-1).values.numpy() - samples.barrier

    @torch.no_grad()
    def embeddings(self, samples: Samples) -> np.ndarray:
        """The last token's final hidden state, for the normalised lookback (as the forecast sees it)."""
        self.model.eval()
        parts = [
            self.model.hidden(normalise(batch)[0])[:, -1, :].cpu().double() for batch in self._batches(samples.rows)
        ]
        return torch.cat(parts).numpy()


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression (intercept unpenalised), full-batch L-BFGS in float64."""
    features, labels = torch.from_numpy(x), torch.from_numpy(y.astype(np.float64))
    weights = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weights, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        logits = features @ weights + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels) + 0.5 * l2 * weights.square().sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return weights.detach().numpy(), float(bias.detach())


def segment_ends(split: np.ndarray, name: str, length: int, patch: int) -> np.ndarray:
    """Last indices e of fine-tuning segments (length values ending at e) whose forecast target, the
    final patch, lies wholly in split `name`; training segments lie wholly in the training split."""
    inside = split == name
    ends = np.flatnonzero(inside)
    ends = ends[ends >= length - 1]
    first = ends - (length - 1 if name == "train" else patch - 1)
    return ends[inside[first]] if len(ends) else ends


def fine_tune(scorer: Scorer, split: np.ndarray, settings: Settings, seed: int) -> dict:
    model, device, patch = scorer.model, scorer.device, scorer.model.config.input_token_len
    length = scorer.length + patch
    train_ends = segment_ends(split, "train", length, patch)
    val_ends = segment_ends(split, "val", length, patch)
    if len(train_ends) == 0 or len(val_ends) == 0:
        raise JobError(f"fine-tune needs train and val segments of {length} days; lower lookback_patches")
    if settings.max_val_segments and len(val_ends) > settings.max_val_segments:
        val_ends = val_ends[np.linspace(0, len(val_ends) - 1, settings.max_val_segments).round().astype(int)]
    val_segments = lookbacks(scorer.series, val_ends, length).to(device)

    @torch.no_grad()
    def validation_mse() -> float:
        """MSE of the last token's next-patch forecast: the targets are validation values only."""
        model.eval()
        inputs, mean, std = normalise(val_segments[:, :-patch])
        predicted = model(inputs)[:, -1, :patch]
        return float(torch.nn.functional.mse_loss(predicted, (val_segments[:, -patch:] - mean) / std))

    def train_loss(picks: np.ndarray) -> torch.Tensor:
        return ar_loss(model, lookbacks(scorer.series, train_ends[picks], length).to(device))

    fit = fit_early_stopping(
        model,
        train_loss=train_loss,
        train_size=len(train_ends),
        validation_loss=validation_mse,
        settings=settings,
        seed=seed,
        grad_clip=GRAD_CLIP,
    )
    return {
        "finetune_steps": fit.steps,
        "finetune_best_step": fit.best_step,
        "finetune_initial_val_mse": fit.initial_val,
        "finetune_best_val_mse": fit.best_val,
        "finetune_train_segments": int(len(train_ends)),
        "finetune_val_segments": int(len(val_ends)),
        "finetune_first_train_mse": fit.first_train,
        "finetune_last_train_mse": fit.last_train,
    }


def calibrated(scorer: Scorer, samples: dict[str, Samples], settings: Settings) -> tuple[dict, dict, dict]:
    """Point scores of every split and p = sigmoid(a * score + b) with (a, b) fitted on training samples."""
    train = samples["train"].recent(settings.max_train_windows)
    require_both_classes(train.y, "calibrating the point score")
    train_scores = scorer.point_scores(train)
    (a,), b = fit_logistic(train_scores[:, None], train.y, CALIBRATION_L2)
    scores = {name: scorer.point_scores(samples[name]) for name in ("val", "test")}
    probabilities = {name: sigmoid(a * s + b) for name, s in scores.items()}
    return (
        scores,
        probabilities,
        {
            "calibration": "p = sigmoid(a * point_score + b) fitted on training samples",
            "calibration_a": a,
            "calibration_b": b,
            "calibration_windows": int(len(train.y)),
        },
    )


def probe(scorer: Scorer, samples: dict[str, Samples], settings: Settings) -> tuple[dict, dict]:
    """The frozen model's last-token embedding -> logistic head (jobs.common.probe.linear_probe)."""
    train = samples["train"].recent(settings.max_train_windows)
    require_both_classes(train.y, "the linear probe")
    chosen = {"train": train, "val": samples["val"], "test": samples["test"]}
    probabilities, choice = linear_probe(
        embed=lambda name: scorer.embeddings(chosen[name]),
        train_y=train.y,
        val_y=samples["val"].y,
        strengths=settings.probe_l2,
        fit=fit_logistic,
    )
    return probabilities, {
        "probe_l2": choice.l2,
        "probe_val_log_loss": choice.val_log_loss,
        "probe_features": int(choice.weights.size),
        "probe_train_windows": int(len(train.y)),
        "representation": "final hidden state of the last input patch token",
    }


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir)  # fails fast, before any tensor is read
    torch.set_num_threads(thread_count())
    device = torch_device(spec.device)
    make_deterministic(spec.seed, device)
    series = _log_high(dataset)
    samples = _samples(dataset, spec)
    model = load_published(resolved).to(device)
    scorer = Scorer(model, series, settings, horizon=spec.horizon, device=device)
    scored = np.concatenate([samples["val"].rows, samples["test"].rows])
    notes: dict = {
        "mode": settings.mode,
        "series": "log(high)",
        "lookback_days": scorer.length,
        "architecture": f"Timer {resolved.config.num_hidden_layers}x{resolved.config.hidden_size}",
        "point_score": "max forecast log(High/Close_t) over t+1..t+H - log(1 + threshold)",
        "rows_with_padded_history": int(np.sum(scored < scorer.length - 1)),
    }
    started = time.perf_counter()
    if settings.mode == "fine-tune":
        notes.update(fine_tune(scorer, dataset.frame["split"].to_numpy(), settings, spec.seed))
        notes["calibration_in_sample"] = True
    trained = time.perf_counter()
    n_parameters = sum(p.numel() for p in model.parameters())
    if settings.mode == "linear-probe":
        probabilities, info = probe(scorer, samples, settings)
        notes.update(info)
        n_train = info["probe_train_windows"]
        n_parameters += info["probe_features"] + 1
        scores = {name: scorer.point_scores(samples[name]) for name in ("val", "test")}
    else:
        scores, probabilities, info = calibrated(scorer, samples, settings)
        notes.update(info)
        n_train = info["calibration_windows"]
    predicted = time.perf_counter()
    return ModelOutput(
        val=SplitPredictions(samples["val"].dates, samples["val"].y, probabilities["val"], scores["val"]),
        test=SplitPredictions(samples["test"].dates, samples["test"].y, probabilities["test"], scores["test"]),
        n_parameters=n_parameters,
        n_train=n_train,
        weights=resolved.source,
        train_seconds=trained - started,
        predict_seconds=predicted - trained,
        device=str(device),
        packages=PACKAGES,
        notes=notes,
    )
