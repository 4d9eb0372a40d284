"""The one training loop every torch model goes through, so models differ only in architecture.

AdamW with a warm-up + cosine schedule, class-weighted BCE, gradient clipping, early stopping on
validation AUC. It never sees the test split: the job predicts that once, after `fit` has left
the best-on-validation weights in the model.
"""

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from jobs.common.errors import JobError
from jobs.common.metrics import auc_roc

PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    patience: int
    batch_size: int
    eval_batch_size: int
    lr: float
    warmup_fraction: float
    weight_decay: float
    grad_clip: float
    compile: bool  # torch.compile the model for training (first epoch pays the compilation)
    precision: str  # "auto" (bf16 on CUDA, fp32 elsewhere), "bf16" or "fp32": see `autocast`
    seed: int

    def __post_init__(self) -> None:
        for name in ("epochs", "patience", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not (self.lr > 0 and self.grad_clip > 0 and self.weight_decay >= 0 and 0 <= self.warmup_fraction < 1):
            raise ValueError("need lr > 0, grad_clip > 0, weight_decay >= 0 and 0 <= warmup_fraction < 1")


@dataclass(frozen=True)
class FitReport:
    best_epoch: int  # 1-based
    epochs_run: int
    best_val_auc: float | None
    pos_weight: float
    val_auc_history: tuple[float | None, ...]


def make_deterministic(seed: int, device: torch.device) -> None:
    """Same seed, same CPU result. On accelerators, kernels without a deterministic version only
    warn (bitwise equality there is best effort)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    torch.backends.cudnn.benchmark = False


def autocast(device: torch.device, precision: str):
    """bf16 autocast where `precision` asks for it: "auto" = on CUDA only (CPU and MPS train in
    float32, so their results do not move), "bf16" = everywhere (CPUs with AVX512-BF16 train
    faster; results shift within seed noise), "fp32" = nowhere."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


# On a CPU, a forward pass over more windows than this outgrows the caches, and every activation
# above glibc's 32 MB mmap ceiling is fresh memory that page-faults on first touch: 256 windows at
# once ran 15-45% slower than 64 at a time for seven of the nine models (iTransformer and DLinear,
# the smallest activations, lose 5% and 57%). Logits do not depend on how windows are grouped.
CPU_EVAL_WINDOWS = 64


def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int, precision: str = "auto") -> np.ndarray:
    """Logits for every window of `x` (already on the model's device); one copy back at the end.
    `batch_size` windows per forward pass, at most CPU_EVAL_WINDOWS on a CPU."""
    if x.device.type == "cpu":
        batch_size = min(batch_size, CPU_EVAL_WINDOWS)
    model.eval()
    with torch.no_grad(), autocast(x.device, precision):
        outputs = [model(batch).float() for batch in x.split(batch_size)]
    return torch.cat(outputs).cpu().numpy().astype(np.float64)


def on_device(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """Windows moved to the device once, so no training or evaluation step copies from the host."""
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


def probabilities(logits: np.ndarray, pos_weight: float) -> np.ndarray:
    """Class weighting shifts the fitted logit by ln(pos_weight); undoing it keeps probabilities
    calibrated to the real base rate (ranking, hence AUC, is unchanged)."""
    return 0.5 * (1.0 + np.tanh(0.5 * (logits - math.log(pos_weight))))  # a sigmoid that cannot overflow


def positive_weight(y: np.ndarray) -> float:
    positives = int(np.sum(y == 1))
    if positives == 0 or positives == len(y):
        raise JobError(f"training windows hold a single class ({positives} positives of {len(y)})")
    return (len(y) - positives) / positives


def make_optimiser(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """Decay matrices and embeddings; leave biases and norm gains alone (decaying them only hurts).
    The fused kernel updates every parameter in one pass (CPU and CUDA) instead of a dozen
    element-wise ops per parameter tensor."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = params[0].device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=lr, fused=fused)


def _schedule(optimiser: torch.optim.Optimizer, total_steps: int, warmup_fraction: float):
    warmup = int(warmup_fraction * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, factor)


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, np.ndarray],
    settings: TrainSettings,
    *,
    on_epoch: Callable[[int, float | None], None] = lambda epoch, val_auc: None,
) -> FitReport:
    """Train on `train`, select the epoch by AUC on `val`, and leave those weights in `model`.

    Inputs are tensors already on the model's device (labels of `train` as float 0/1); `val`'s
    labels stay in numpy for the AUC. The loss is checked for NaN/inf once per epoch, not per
    step, so an accelerator never waits on the host inside an epoch.
    """
    x_train, y_train = train
    x_val, y_val = val
    device = x_train.device
    pos_weight = positive_weight(y_train.cpu().numpy())
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
    optimiser = make_optimiser(model, settings.lr, settings.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / settings.batch_size)
    schedule = _schedule(optimiser, settings.epochs * steps_per_epoch, settings.warmup_fraction)
    shuffler = torch.Generator().manual_seed(settings.seed)
    step = torch.compile(model) if settings.compile else model

    best_score, best_epoch, best_state, history = -math.inf, 0, None, []
    for epoch in range(1, settings.epochs + 1):
        model.train()
        finite = torch.ones((), dtype=torch.bool, device=device)
        order = torch.randperm(len(x_train), generator=shuffler).to(device)
        for batch in order.split(settings.batch_size):
            with autocast(device, settings.precision):
                logits = step(x_train[batch])
            loss = loss_fn(logits.float(), y_train[batch])
            finite &= torch.isfinite(loss.detach())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimiser.step()
            schedule.step()
        if not bool(finite):
            raise JobError(f"training diverged: non-finite loss in epoch {epoch}")

        val_logits = predict_logits(model, x_val, settings.eval_batch_size, settings.precision)
        if not np.all(np.isfinite(val_logits)):
            raise JobError(f"model produced non-finite validation logits in epoch {epoch}")
        auc = auc_roc(y_val, val_logits)
        history.append(auc)
        on_epoch(epoch, auc)
        # A single-class validation split has no AUC; fall back to the (negated) validation loss.
        score = auc if auc is not None else -_log_loss(y_val, val_logits, pos_weight)
        if score > best_score:
            best_score, best_epoch = score, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - best_epoch >= settings.patience:
            break

    model.load_state_dict(best_state)
    best_auc = history[best_epoch - 1]
    return FitReport(best_epoch, len(history), best_auc, pos_weight, tuple(history))


def _log_loss(y: np.ndarray, logits: np.ndarray, pos_weight: float) -> float:
    p = np.clip(probabilities(logits, pos_weight), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
