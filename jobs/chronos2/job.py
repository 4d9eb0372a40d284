"""Chronos-2 job: (spec, dataset, weights_dir) -> ModelOutput, in the chronos environment.

What the model sees (hyper-parameter `inputs`; recorded in the result's `inputs`): per window ending
at t, the target series log(High_s / Close_t) over the spec's context, and ("all", the default) the 24
other features as past-only covariates, as PatchTST sees them (jobs/common/covariates.py); "high" is
the target alone.

Forecast: Chronos-2's 21 quantiles (0.01..0.99) of the target at t+1..t+H (jobs/chronos2/forecast.py).
Point score, every mode: the median path's maximum minus log(1 + threshold), beside p.

p (jobs/common/quantiles.py states the rules):
- H = 1, modes 'zero-shot' and 'fine-tune': P(x_{t+1} >= log(1 + threshold)) from the forecast
  quantiles (interpolated CDF, exponential tails). No parameter is fitted to the labels.
- H > 1, and mode 'linear-probe' at any H: Chronos-2 outputs per-step quantiles, not sampled paths, so
  P(max over the path) is not determined by its output; p comes from the linear probe
  (jobs/common/probe.py) on the encoder's embeddings of each window (`probe_features` 'embedding') or
  on the forecast's quantile features ('quantiles'), fitted on training labels, L2 strength chosen on
  validation log loss. After fine-tuning, the probe reads the fine-tuned model (its training windows
  are then in-sample for the model; the notes say so). With `shared_encoder_pass` (and H within one
  16-step output patch) the validation and test embeddings come from the forecast's own encoder pass
  instead of a second one: the same hidden states (jobs/chronos2/forecast.py), half the encoder work.
Scoring precision (`precision`, recorded in the notes): float32, or bfloat16 autocast (the quick profile's
choice on CPUs: ~2.7x faster, forecasts moving by ~1e-3 relative; jobs/chronos2/forecast.py). Fine-tuning
runs in the package's own precision either way.
- 'fine-tune': `Chronos2Pipeline.fit`, full or LoRA (`finetune`), early stopping on validation
  (jobs/chronos2/finetune.py). The test split is scored once, after every fit and choice.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jobs.chronos2.finetune import fine_tune, prepared_inputs
from jobs.chronos2.forecast import Forecaster
from jobs.chronos2.weights import load_pipeline, resolve_weights
from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.covariates import CovariateWindows, future_targets, spec_windows
from jobs.common.dataset import Dataset
from jobs.common.errors import JobError
from jobs.common.logistic import fit_logistic
from jobs.common.probe import clip_probability, linear_probe, require_both_classes
from jobs.common.quantiles import exceedance, point_score, quantile_features
from jobs.common.settings import SpecSettings
from jobs.common.torch_setup import start_torch
from shared_schema import ExperimentSpec

PACKAGES = ("torch", "chronos-forecasting", "transformers", "accelerate", "peft")
SCORED = ("val", "test")


@dataclass(frozen=True)
class Settings(SpecSettings):
    mode: str
    finetune: str
    inputs: str
    max_steps: int
    batch_size: int
    lr: float
    eval_every: int
    patience: int
    max_train_windows: int
    max_val_windows: int
    probe_l2: tuple[float, ...]
    probe_features: str
    shared_encoder_pass: bool
    precision: str
    predict_batch_size: int


def probability_method(settings: Settings, horizon: int) -> str:
    if horizon == 1 and settings.mode != "linear-probe":
        return "quantiles"
    return "linear-probe"


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir)  # fails fast, before any tensor is read
    device = start_torch(spec)
    if settings.precision == "bfloat16" and not torch.amp.is_autocast_available(device.type):
        raise JobError(f"precision bfloat16 needs torch.autocast on {device.type}, which torch lacks: set float32")
    windows = spec_windows(dataset, spec)
    for name in ("train", "val", "test"):
        if len(windows.split(name).rows) == 0:
            raise JobError(f"no usable {name} samples for horizon {spec.horizon}")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = load_pipeline(resolved, device).model
    use_covariates = settings.inputs == "all"
    notes: dict = {
        "mode": settings.mode,
        "p_method": probability_method(settings, spec.horizon),
        "architecture": f"Chronos-2 {model.config.num_layers}x{model.config.d_model}",
        "point_score": "max over t+1..t+H of the median forecast of log(High/Close_t) - log(1 + threshold)",
        "scoring_precision": settings.precision,
    }
    started = time.perf_counter()
    if settings.mode == "fine-tune":
        model, info = _fine_tune(model, windows, dataset, settings, spec=spec, use_covariates=use_covariates)
        notes.update(info)
    trained = time.perf_counter()
    forecaster = Forecaster(
        model,
        horizon=spec.horizon,
        use_covariates=use_covariates,
        batch_windows=settings.predict_batch_size,
        device=device,
        precision=settings.precision,
    )
    embeddings: dict[str, np.ndarray] = {}  # the probe's validation/test features, when read from the forecast pass
    if (
        notes["p_method"] == "linear-probe"
        and settings.probe_features == "embedding"
        and settings.shared_encoder_pass
        and spec.horizon <= forecaster.patch
    ):
        quantiles = {}
        for name in SCORED:
            quantiles[name], embeddings[name] = forecaster.quantiles_and_embeddings(windows.split(name))
    else:
        quantiles = {name: forecaster.quantiles(windows.split(name)) for name in SCORED}
    levels = forecaster.levels
    scores = {name: point_score(levels, quantiles[name], windows.split(name).barrier) for name in SCORED}
    n_parameters = sum(p.numel() for p in model.parameters())
    if notes["p_method"] == "quantiles":
        probabilities = {
            name: clip_probability(exceedance(levels, quantiles[name][:, 0, :], windows.split(name).barrier))
            for name in SCORED
        }
        n_train = len(windows.train.rows)  # the training windows the model was fitted on (zero-shot: none)
        notes["tail_rule"] = "exponential beyond the 0.01/0.99 quantiles (jobs/common/quantiles.py)"
    else:
        probabilities, info = _probe(forecaster, windows, quantiles, embeddings, settings)
        notes.update(info)
        notes["probe_in_sample_for_model"] = settings.mode == "fine-tune"
        n_train = info["probe_train_windows"]
        n_parameters += info["probe_features"] + 1
    predicted = time.perf_counter()
    return ModelOutput(
        val=SplitPredictions(windows.val.dates, windows.val.y, probabilities["val"], scores["val"]),
        test=SplitPredictions(windows.test.dates, windows.test.y, probabilities["test"], scores["test"]),
        n_parameters=n_parameters,
        n_train=n_train,
        weights=resolved.source,
        train_seconds=trained - started,
        predict_seconds=predicted - trained,
        device=str(device),
        packages=PACKAGES,
        notes=notes,
        inputs=windows.inputs("past covariates" if use_covariates else None),
    )


def _fine_tune(model, windows: CovariateWindows, dataset: Dataset, settings: Settings, *, spec, use_covariates):
    from chronos import Chronos2Pipeline

    train = windows.train.recent(settings.max_train_windows)
    val = windows.val.recent(settings.max_val_windows)
    np.random.seed(spec.seed % 2**32)  # the package's training dataset draws windows from numpy's global generator
    return fine_tune(
        Chronos2Pipeline(model=model),
        train=prepared_inputs(train, future_targets(dataset, train.rows, spec.horizon), use_covariates),
        val=prepared_inputs(val, future_targets(dataset, val.rows, spec.horizon), use_covariates),
        horizon=spec.horizon,
        context_length=spec.context_length,
        settings=settings,
        seed=spec.seed,
    )


def _probe(forecaster: Forecaster, windows: CovariateWindows, quantiles: dict, embeddings: dict, settings: Settings):
    """p from a logistic head on the frozen (or fine-tuned) model's window features; the forecasts and
    embeddings already computed for a split are reused, the rest computed here."""
    train = windows.train.recent(settings.max_train_windows)
    require_both_classes(train.y, "the linear probe")
    parts = {"train": train, "val": windows.val, "test": windows.test}

    def features(name: str) -> np.ndarray:
        if settings.probe_features == "embedding":
            return embeddings[name] if name in embeddings else forecaster.embeddings(parts[name])
        forecast = quantiles[name] if name in quantiles else forecaster.quantiles(parts[name])
        return quantile_features(forecaster.levels, forecast, parts[name].barrier)

    probabilities, choice = linear_probe(
        embed=features, train_y=train.y, val_y=windows.val.y, strengths=settings.probe_l2, fit=fit_logistic
    )
    info: dict = {}
    if settings.probe_features == "embedding":
        info["probe_embedding_pass"] = (
            "val/test: the forecast's own encoder pass" if embeddings else "separate encode()"
        )
    return probabilities, info | {
        "probe_l2": choice.l2,
        "probe_val_log_loss": choice.val_log_loss,
        "probe_features": int(choice.weights.size),
        "probe_train_windows": int(len(train.y)),
        "representation": "target row's [REG] and forecast-token hidden states"
        if settings.probe_features == "embedding"
        else "forecast quantiles minus the barrier, and per-step exceedance",
    }
