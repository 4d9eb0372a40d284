"""Logistic regression and gradient boosting on the features at t.

Samples are chosen with the spec's context length, so every baseline scores exactly the rows
the deep models score and predictions can be compared pairwise.
"""

import time
from pathlib import Path

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from jobs.catalog import BY_NAME
from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.dataset import Dataset
from jobs.common.windows import WindowedData, make_windows
from shared_schema import ExperimentSpec, WeightsSource

PACKAGES = ("scikit-learn", "scipy")
VOLATILITY_FEATURES = ["natr_14"]


def _fit_and_score(model, data: WindowedData, n_parameters, notes: dict) -> ModelOutput:
    started = time.perf_counter()
    model.fit(data.train.x, data.train.y)
    trained = time.perf_counter()
    p_val = model.predict_proba(data.val.x)[:, 1]
    p_test = model.predict_proba(data.test.x)[:, 1]
    predicted = time.perf_counter()
    return ModelOutput(
        val=SplitPredictions(data.val.dates, data.val.y, p_val),
        test=SplitPredictions(data.test.dates, data.test.y, p_test),
        n_parameters=n_parameters(model),
        n_train=len(data.train.y),
        weights=WeightsSource(kind="from-scratch"),
        train_seconds=trained - started,
        predict_seconds=predicted - trained,
        packages=PACKAGES,
        notes=notes,
    )


def _hyperparameters(spec: ExperimentSpec) -> dict:
    """The catalog's values (jobs/catalog.py) for every key, the spec's where it spells one out."""
    return BY_NAME[spec.model].resolve(spec)


def _logreg(spec: ExperimentSpec, data: WindowedData, notes: dict) -> ModelOutput:
    hp = _hyperparameters(spec)
    model = LogisticRegression(C=hp["C"], max_iter=hp["max_iter"])
    return _fit_and_score(model, data, lambda m: int(m.coef_.size + m.intercept_.size), notes)


def logreg_features(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    """All 25 features at t (open/high/low relative to close_t), z-scored on train."""
    data = make_windows(dataset, spec.horizon, spec.context_length, flat=True)
    return _logreg(spec, data, {"inputs": "all 25 features at t, open/high/low as log ratios to close_t"})


def logreg_volatility(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    """Volatility alone (ATR / close): how much of the target is just 'big moves are likelier now'."""
    data = make_windows(dataset, spec.horizon, spec.context_length, features=VOLATILITY_FEATURES, flat=True)
    return _logreg(spec, data, {"inputs": "natr_14 at t (ATR/close)"})


def gradient_boosting(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    hp = _hyperparameters(spec)
    data = make_windows(dataset, spec.horizon, spec.context_length, flat=True)
    model = HistGradientBoostingClassifier(
        max_iter=hp["max_iter"],
        learning_rate=hp["learning_rate"],
        max_depth=hp["max_depth"],
        min_samples_leaf=hp["min_samples_leaf"],
        l2_regularization=hp["l2_regularization"],
        early_stopping=False,
        random_state=spec.seed,
    )

    def tree_nodes(m) -> int:
        return int(sum(len(tree.nodes) for stage in m._predictors for tree in stage))

    return _fit_and_score(
        model,
        data,
        tree_nodes,
        {"inputs": "all 25 features at t, open/high/low as log ratios to close_t", "n_parameters_counts": "tree nodes"},
    )
