"""The fine-tuning loop the forecasting foundation jobs share (Timer, PatchTST-FM, TTM): AdamW on
random training batches, the job's validation loss every `eval_every` steps, early stopping after
`patience` evaluations without improvement, and the best weights restored. The test split is never
seen: the job's two callables touch only training and validation data."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from jobs.common.errors import JobError


@dataclass(frozen=True)
class FitOutcome:
    steps: int  # steps taken (fewer than max_steps when early stopping fired)
    best_step: int  # the step whose weights were restored (0: the starting weights)
    initial_val: float
    best_val: float
    first_train: float
    last_train: float


def fit_early_stopping(
    model: torch.nn.Module,
    *,
    train_loss: Callable[[np.ndarray], torch.Tensor],
    train_size: int,
    validation_loss: Callable[[], float],
    settings,  # has lr, max_steps, batch_size, eval_every, patience
    seed: int,
    grad_clip: float,
) -> FitOutcome:
    """`train_loss(indices)` is the loss on the training examples at those indices (drawn with
    replacement from range(train_size)); `validation_loss()` evaluates in eval mode without grad."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    best = initial = validation_loss()
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best_step, bad, steps, losses = 0, 0, 0, []
    for step in range(1, settings.max_steps + 1):
        model.train()
        loss = train_loss(rng.choice(train_size, size=settings.batch_size))
        if not torch.isfinite(loss):
            raise JobError(f"fine-tuning diverged: loss {loss.item()} at step {step}")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimiser.step()
        losses.append(float(loss.detach()))
        steps = step
        if step % settings.eval_every == 0 or step == settings.max_steps:
            current = validation_loss()
            if current < best:
                best, best_step, bad = current, step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
                if bad >= settings.patience:
                    break
    model.load_state_dict(best_state)
    model.eval()
    nan = float("nan")
    return FitOutcome(steps, best_step, initial, best, losses[0] if losses else nan, losses[-1] if losses else nan)
