"""What the foundation-model jobs (Timer, TimesFM) share once their model has produced a score or
an embedding: probabilities from logits under one clipping rule, the log loss, and the linear
probe's protocol (standardise on train, choose the L2 strength on validation log loss, embed the
test split only after the choice). NumPy only: each job brings its own framework's fitter.

The clipping rule: p = sigmoid(z) clipped to [P_CLIP, 1 - P_CLIP], computed as 0.5 (1 + tanh(z/2)),
which cannot overflow for any z (no logit clip needed). The floor keeps every log loss finite
(at most -log(1e-6) = 13.8 per row) and is far below any probability a decision or an AUC turns on.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jobs.common.errors import JobError

P_CLIP = 1e-6
STD_FLOOR = 1e-8  # a feature constant on the training rows is left unscaled, not divided by ~0

# (features, labels, l2) -> (weights, bias): an L2-penalised logistic regression in the job's framework.
LogisticFit = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, float]]


def require_both_classes(labels: np.ndarray, needed_by: str) -> None:
    """A head fitted on labels (a probe, a calibration) needs both classes among them; otherwise the
    job fails before any model work, naming what needed them."""
    if len(np.unique(labels)) < 2:
        raise JobError(f"{needed_by} needs both classes among the training windows")


def clip_probability(p: np.ndarray) -> np.ndarray:
    return np.clip(p, P_CLIP, 1 - P_CLIP)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return clip_probability(0.5 * (1.0 + np.tanh(0.5 * np.asarray(z))))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = clip_probability(p)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@dataclass(frozen=True)
class ProbeChoice:
    l2: float
    weights: np.ndarray
    bias: float
    val_log_loss: float


def linear_probe(
    *,
    embed: Callable[[str], np.ndarray],
    train_y: np.ndarray,
    val_y: np.ndarray,
    strengths: tuple[float, ...] | list[float],
    fit: LogisticFit,
) -> tuple[dict[str, np.ndarray], ProbeChoice]:
    """Probabilities for "val" and "test" from a logistic head on frozen embeddings. `embed(split)`
    is asked for "train", "val", then, only after the strength is chosen, "test"."""
    train, val = embed("train"), embed("val")
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > STD_FLOOR, std, 1.0)
    z = {"train": (train - mean) / std, "val": (val - mean) / std}
    best: ProbeChoice | None = None
    for l2 in strengths:
        weights, bias = fit(z["train"], train_y, l2)
        loss = log_loss(val_y, sigmoid(z["val"] @ weights + bias))
        if best is None or loss < best.val_log_loss:
            best = ProbeChoice(l2, weights, bias, loss)
    z["test"] = (embed("test") - mean) / std
    return {name: sigmoid(z[name] @ best.weights + best.bias) for name in ("val", "test")}, best
