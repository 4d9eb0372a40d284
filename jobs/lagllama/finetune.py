"""Fine-tuning: Student-t negative log-likelihood of next values over the target series' training
windows, early stopping on validation NLL (the pre-trained weights count as epoch 0)."""

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from jobs.lagllama.data import SeriesData
from jobs.lagllama.features import lag_tokens, scale_history
from jobs.lagllama.model import LagLlamaModel
from jobs.lagllama.sampling import ForecastBatch


@dataclass(frozen=True)
class FineTuneSettings:
    """Per profile, the values come from the model catalog (jobs/catalog.py), whose full profile
    follows the released fine-tuning recipe (lr 5e-4, batch 64, 50 batches per epoch)."""

    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    batches_per_epoch: int
    patience: int
    max_val_windows: int
    grad_clip: float

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_epochs", "batches_per_epoch", "patience", "max_val_windows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not (self.lr > 0 and self.weight_decay >= 0 and self.grad_clip > 0):
            raise ValueError("lr and grad_clip must be positive, weight_decay non-negative")


@dataclass(frozen=True)
class FineTuneReport:
    epochs_run: int
    best_epoch: int
    initial_val_nll: float
    best_val_nll: float
    n_train_windows: int
    n_val_windows: int
    full_history_only: bool
    step_seconds: float


def sequence_nll(
    model: LagLlamaModel, batch: ForecastBatch, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean NLL of targets (B, C) under the model's per-position Student-t (in series units)."""
    config = model.config
    device = next(model.parameters()).device
    batch = batch.to(device)
    targets = targets.to(device)
    mask = mask.to(device) if mask is not None else None
    loc, scale = scale_history(config, batch.history, batch.observed)
    scaled = (batch.history - loc) / scale
    length = batch.history.shape[1]
    positions = torch.arange(length - config.context_length, length)
    args = model(lag_tokens(config, scaled, positions, loc=loc, scale=scale, time_feat=batch.past_time))
    distribution = model.distr_output.distribution(args, loc=loc, scale=scale)
    nll = -distribution.log_prob(targets)
    if mask is None:
        return nll.mean()
    return (nll * mask).sum() / mask.sum().clamp_min(1.0)


def training_rows(split: np.ndarray, series: SeriesData) -> tuple[np.ndarray, bool]:
    """Last-token rows t whose next value t+1 is a training row; full lag history preferred."""
    t = np.arange(len(split) - 1)
    rows = t[(split[t + 1] == "train") & (t >= series.config.context_length - 1)]
    full = rows[series.has_full_history(rows)]
    if len(full) >= 1:
        return full, True
    return rows, False


def validation_rows(split: np.ndarray, limit: int) -> np.ndarray:
    t = np.arange(len(split) - 1)
    rows = t[split[t + 1] == "val"]
    if len(rows) > limit:
        rows = rows[np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    return rows


@torch.no_grad()
def validation_nll(
    model: LagLlamaModel, series: SeriesData, split: np.ndarray, rows: np.ndarray, *, batch_size: int
) -> float:
    """NLL over the targets that are validation rows (earlier positions of a window are training data)."""
    model.eval()
    total, count = 0.0, 0.0
    c = series.config.context_length
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        batch, targets = series.training_batch(chunk)
        target_rows = chunk[:, None] + np.arange(-c + 2, 2)[None, :]
        mask = torch.from_numpy((split[target_rows] == "val").astype(np.float32))
        nll = sequence_nll(model, batch, targets, mask)
        total += float(nll) * float(mask.sum())
        count += float(mask.sum())
    return total / max(count, 1.0)


def fine_tune(
    model: LagLlamaModel, series: SeriesData, split: np.ndarray, settings: FineTuneSettings, *, seed: int, log=print
) -> FineTuneReport:
    """Trains `model` in place; leaves it holding the weights with the best validation NLL."""
    train_rows, full_only = training_rows(split, series)
    val_rows = validation_rows(split, settings.max_val_windows)
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise ValueError(f"fine-tuning needs training and validation windows (have {len(train_rows)}, {len(val_rows)})")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    initial = best = validation_nll(model, series, split, val_rows, batch_size=settings.batch_size)
    best_state, best_epoch, stale, epochs_run = copy.deepcopy(model.state_dict()), 0, 0, 0
    step_time, steps = 0.0, 0
    log(
        f"[lagllama] fine-tune: {len(train_rows)} train windows (full history only: {full_only}), "
        f"{len(val_rows)} val windows, epoch 0 val NLL {initial:.4f}"
    )
    for epoch in range(1, settings.max_epochs + 1):
        model.train()
        for _ in range(settings.batches_per_epoch):
            started = time.perf_counter()
            chunk = rng.choice(train_rows, size=settings.batch_size, replace=len(train_rows) < settings.batch_size)
            batch, targets = series.training_batch(np.sort(chunk))
            loss = sequence_nll(model, batch, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimizer.step()
            step_time += time.perf_counter() - started
            steps += 1
        epochs_run = epoch
        val = validation_nll(model, series, split, val_rows, batch_size=settings.batch_size)
        log(f"[lagllama] epoch {epoch}: train NLL {float(loss.detach()):.4f} val NLL {val:.4f}")
        if val < best - 1e-6:
            best, best_epoch, stale = val, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return FineTuneReport(
        epochs_run=epochs_run,
        best_epoch=best_epoch,
        initial_val_nll=initial,
        best_val_nll=best,
        n_train_windows=len(train_rows),
        n_val_windows=len(val_rows),
        full_history_only=full_only,
        step_seconds=step_time / max(steps, 1),
    )
