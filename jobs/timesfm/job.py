"""TimesFM 2.5 (200M, flax) job: (spec, dataset, weights_dir) -> ModelOutput.

Series forecast: log(High). For sample row t the context is log High over rows t-L+1..t
(L = spec.context_length, the same rows every other model scores, from `sample_rows`); TimesFM
forecasts the 0.1..0.9 quantiles of log High_{t+1..t+H}, and `probability.max_exceedance` turns
them into P(max High_{t+1..t+H} >= (1 + threshold) Close_t) (see probability.py for the method).

Modes (hyper-parameter `mode`), wired here:
- 'zero-shot': the checkpoint as is.
- 'fine-tune' (default): the forecast head trained on the pinball loss first (finetune.py).
- 'linear-probe': a logistic head on frozen embeddings (probe.py).
The samples are data.py's, the hyper-parameters settings.py's, the loaded model runner.py's.
"""

import time
from pathlib import Path

import numpy as np

from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.dataset import Dataset
from jobs.common.device import jax_device
from jobs.timesfm.data import build_series, recent
from jobs.timesfm.finetune import fine_tune
from jobs.timesfm.probe import probe
from jobs.timesfm.runner import Runner
from jobs.timesfm.settings import Settings
from jobs.timesfm.weights import resolve_weights
from shared_schema import ExperimentSpec

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "timesfm")


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
        train = recent(series["train"], settings.max_train_windows)
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
