"""Classification metrics every job reports, in numpy only (each environment has numpy)."""

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
