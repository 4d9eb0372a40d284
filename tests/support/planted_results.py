"""Result folders as `orch run` leaves them, written without running a job: a spec per model,
horizon and seed, and synthetic predictions with a planted amount of signal (the report's tests
know the truth the verdicts must find)."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.io import predictions_table, write_outputs
from jobs.common.runner import build_result
from orchestrator.data.splits import BUNDLED_SPLITS
from orchestrator.paths import DEFAULT_DATASET
from shared_schema import ExperimentSpec, WeightsSource
from tests.support.helpers import seal_run

FROM_SCRATCH = WeightsSource(kind="from-scratch")


def spec_for(
    model: str,
    horizon: int,
    seed: int,
    profile: str,
    dataset_sha256: str,
    env: str = "sklearn",
    fold: int | None = None,
) -> ExperimentSpec:
    return ExperimentSpec(
        id=f"EX-{model.upper()}-H{horizon}",
        slug=f"{model}-h{horizon}",
        model=model,
        env=env,
        horizon=horizon,
        threshold=0.01,
        context_length=64,
        split_dates=BUNDLED_SPLITS,
        dataset={"name": DEFAULT_DATASET, "sha256": dataset_sha256},
        seed=seed,
        profile=profile,
        fold=fold,
    )


def result_folder(results: Path, spec: ExperimentSpec, weights_kind: str = "") -> Path:
    """A folder for a job's outputs under `results`; `seal_run` then commits it as `orch run` would."""
    key = hashlib.sha256((spec.model_dump_json() + weights_kind).encode()).hexdigest()[:12]
    fold = "" if spec.fold is None else f"-f{spec.fold}"
    folder = results / f"{spec.slug}{fold}-s{spec.seed}-{key}"
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(spec.model_dump_json(indent=2))
    return folder


VAL_DAYS = pd.bdate_range("2015-01-02", periods=300).date
TEST_DAYS = pd.bdate_range("2017-01-03", periods=300).date
SYNTHETIC_SHA = "a" * 64


def labels(days: np.ndarray, seed: int) -> np.ndarray:
    """Overlapping 3-day windows, as in the real target."""
    shocks = np.random.default_rng(seed).standard_normal(len(days) + 3)
    return (np.lib.stride_tricks.sliding_window_view(shocks[1:], 3)[: len(days)].max(axis=1) > 1.2).astype(np.int8)


Y_VAL, Y_TEST = labels(VAL_DAYS, 1), labels(TEST_DAYS, 2)


def split_days(n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validation and test days with their labels; the default 300 are the module's."""
    if n_days == len(TEST_DAYS):
        return VAL_DAYS, Y_VAL, TEST_DAYS, Y_TEST
    val_days = pd.bdate_range(end="2016-12-23", periods=n_days).date
    test_days = pd.bdate_range("2017-01-03", periods=n_days).date
    return val_days, labels(val_days, 1), test_days, labels(test_days, 2)


def planted_probabilities(y: np.ndarray, signal: float, noise_key: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, int(hashlib.sha256(noise_key.encode()).hexdigest()[:8], 16), len(y)])
    return 1.0 / (1.0 + np.exp(-(signal * y + rng.standard_normal(len(y)) - 1.0)))


def write_synthetic(
    results: Path,
    model: str,
    seeds,
    val_signal: float,
    test_signal: float,
    profile: str = "full",
    weights: WeightsSource = FROM_SCRATCH,
    noise_key: str | None = None,
    hyperparameters: dict | None = None,
    dataset_sha256: str = SYNTHETIC_SHA,
    folds=(None,),
    seed_spread: float = 0.0,
    seedless_noise: bool = False,
    n_days: int = 300,
) -> None:
    """A result whose probabilities carry a planted amount of signal (AUC = Phi(signal / sqrt 2)),
    shifted by `seed_spread` per seed; with folds, fold k gets the k-th slice of the days."""
    val_days, y_val, test_days, y_test = split_days(n_days)
    fold_size = n_days // len(folds)
    for seed in seeds:
        for fold in folds:
            spec = spec_for(model, 1, seed, profile, dataset_sha256, env="torch", fold=fold).model_copy(
                update={"hyperparameters": hyperparameters or {}}
            )
            days = slice(None) if fold is None else slice(fold * fold_size, (fold + 1) * fold_size)
            key = f"{noise_key or model}-{fold}"
            shift = seed_spread * (seed - 1)
            noise_seed = 0 if seedless_noise else seed
            output = ModelOutput(
                val=SplitPredictions(
                    val_days[days], y_val[days], planted_probabilities(y_val[days], val_signal + shift, key, noise_seed)
                ),
                test=SplitPredictions(
                    test_days[days],
                    y_test[days],
                    planted_probabilities(y_test[days], test_signal + shift, key, noise_seed),
                ),
                n_parameters=1000,
                n_train=2000,
                weights=weights,
                train_seconds=1.0,
                predict_seconds=0.1,
            )
            folder = result_folder(results, spec, weights.kind)
            write_outputs(folder, build_result(spec, output, 1.5), predictions_table(output))
            seal_run(folder)


PRETRAINED = WeightsSource(kind="pretrained", hub_id="google/timesfm-2.5", revision="main", sha256="b" * 64)
SEEDS = [0, 1, 2]
