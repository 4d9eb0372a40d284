"""Classification metrics every job reports, in numpy only (each environment has numpy)."""

import math

import numpy as np

from shared_schema import SplitMetrics

EPS = 1e-12
DECISION_RULE = "threshold maximising balanced accuracy (Youden's J) on the validation split"


def auc_roc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Mann-Whitney AUC with average ranks for ties; None when only one class is present."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(p, kind="mergesort")
    sorted_p = np.asarray(p)[order]
    ranks = np.empty(len(p), dtype=np.float64)
    # average ranks over tied groups
    boundaries = np.flatnonzero(np.diff(sorted_p)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(p)]])
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Equal-width bins over [0, 1]; weighted mean |observed rate - mean p|."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(p))


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray) -> float:
    """The cut-off used for accuracy/precision/recall, picked on validation only."""
    y = np.asarray(y_val).astype(bool)
    if y.all() or (~y).all():
        return 0.5
    candidates = np.unique(p_val)
    best, best_score = 0.5, -np.inf
    for c in candidates:
        pred = p_val >= c
        tpr = (pred & y).sum() / y.sum()
        tnr = (~pred & ~y).sum() / (~y).sum()
        score = tpr + tnr
        if score > best_score + 1e-12:
            best, best_score = float(c), score
    return best


def split_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> SplitMetrics:
    y = np.asarray(y).astype(np.float64)
    p = np.asarray(p, dtype=np.float64)
    pred = p >= threshold
    pos = y == 1
    tp = float((pred & pos).sum())
    clipped = np.clip(p, EPS, 1 - EPS)
    return SplitMetrics(
        n=len(y),
        base_rate=float(y.mean()),
        auc=auc_roc(y, p),
        accuracy=float((pred == pos).mean()),
        precision=tp / pred.sum() if pred.sum() else 0.0,
        recall=tp / pos.sum() if pos.sum() else 0.0,
        brier=float(np.mean((p - y) ** 2)),
        log_loss=float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        ece=expected_calibration_error(y, p),
        p_min=float(p.min()),
        p_max=float(p.max()),
        p_std=float(p.std()),
    )


# Recomputed metrics must equal the stated ones to this (relative and absolute) tolerance.
METRIC_TOLERANCE = 1e-9


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=METRIC_TOLERANCE, abs_tol=METRIC_TOLERANCE)


def check_metrics(result, split: np.ndarray, y_true: np.ndarray, p: np.ndarray) -> None:
    """The decision threshold and every split metric of `result` (a JobResult), recomputed from its
    predictions (arrays of split name, label, probability) with this module's code; ValueError
    naming the first that differs. The host and the compose wrapper both check a run this way."""
    split = np.asarray(split)
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    for name in ("val", "test"):
        if int((split == name).sum()) != result.metrics[name].n:
            raise ValueError(
                f"{int((split == name).sum())} {name} predictions but result.json reports n={result.metrics[name].n}"
            )
    for name in ("val", "test"):
        rows = split == name
        recomputed = split_metrics(y[rows], p[rows], result.decision_threshold).model_dump()
        for metric, stated in result.metrics[name].model_dump().items():
            if not _same(recomputed[metric], stated):
                raise ValueError(
                    f"{name} {metric}: result.json says {stated}, the predictions give {recomputed[metric]}"
                )
    threshold = choose_threshold(y[split == "val"], p[split == "val"])
    if not _same(threshold, result.decision_threshold):
        raise ValueError(
            f"decision threshold: result.json says {result.decision_threshold}, the predictions give {threshold}"
        )
