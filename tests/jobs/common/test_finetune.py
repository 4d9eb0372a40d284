"""jobs/common/finetune.py: the early-stopping loop the Timer, PatchTST-FM and TTM jobs share."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from jobs.common.errors import JobError
from jobs.common.finetune import fit_early_stopping

SETTINGS = SimpleNamespace(lr=0.05, max_steps=60, batch_size=8, eval_every=5, patience=2)


def test_best_validation_weights_are_restored_and_patience_stops_early():
    """Training pulls w towards 3, validation prefers 1: validation improves only while w is on its
    way past 1, then worsens, so the loop stops after `patience` bad evaluations and restores the
    weights of the best evaluation, not the last step's."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    x = torch.ones(32, 1)

    def train_loss(picks: np.ndarray) -> torch.Tensor:
        return ((model(x[torch.from_numpy(picks)]) - 3.0) ** 2).mean()

    def validation_loss() -> float:
        with torch.no_grad():
            return float((model.weight - 1.0).abs())

    fit = fit_early_stopping(
        model,
        train_loss=train_loss,
        train_size=32,
        validation_loss=validation_loss,
        settings=SETTINGS,
        seed=0,
        grad_clip=1.0,
    )
    assert fit.steps < SETTINGS.max_steps and fit.best_step % SETTINGS.eval_every == 0 and fit.best_step > 0
    assert fit.best_val < fit.initial_val == 1.0
    assert validation_loss() == pytest.approx(fit.best_val)  # the best weights, restored
    assert fit.last_train < fit.first_train and not model.training


def test_a_non_finite_loss_is_a_one_line_job_error():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(JobError, match="fine-tuning diverged: loss nan at step 1"):
        fit_early_stopping(
            model,
            train_loss=lambda picks: torch.tensor(float("nan"), requires_grad=True),
            train_size=4,
            validation_loss=lambda: 1.0,
            settings=SETTINGS,
            seed=0,
            grad_clip=1.0,
        )
