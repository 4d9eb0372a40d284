"""Fine-tuning Chronos-2 with the package's own `Chronos2Pipeline.fit` (full or LoRA), on its
quantile forecasting loss, with early stopping on validation. The test split is never seen.

Each training example is one window exactly as the forecast sees it: the target series over
t-L+1..t followed by its H future values (the quantity whose maximum is the label), and the
covariates over t-L+1..t followed by NaN (past-only: their future is never given, so nothing after t
enters as an input). `min_past = context_length = L` makes the package cut every example at t, so
the loss is always the forecast of t+1..t+H from the window ending at t. Training windows come from
the training split and validation windows from the validation split (sample rows are purged, so a
label never crosses a split boundary).

Early stopping: the validation loss is evaluated every `eval_every` steps; training stops after
`patience` evaluations without improvement (transformers' EarlyStoppingCallback) and the best
evaluated weights are restored (`load_best_model_at_end`). A LoRA adapter is merged into the model
afterwards, so scoring runs the same plain model in both modes.
"""

import tempfile

import numpy as np
import torch

from jobs.common.covariates import CovariateSplit


def prepared_inputs(part: CovariateSplit, future: np.ndarray, use_covariates: bool) -> list[dict]:
    """The package's PreparedInput per window: rows [target, covariates...] over L + H steps."""
    n, length = part.target.shape
    horizon = future.shape[1]
    target = np.concatenate([part.target, future], axis=1)[:, None, :]  # (n, 1, L + H)
    if use_covariates:
        covariates = np.concatenate(
            [part.covariates.transpose(0, 2, 1), np.full((n, part.covariates.shape[2], horizon), np.nan)], axis=2
        )
        rows = np.concatenate([target, covariates], axis=1)
    else:
        rows = target
    n_covariates = rows.shape[1] - 1
    contexts = torch.from_numpy(rows.astype(np.float32))
    return [
        {
            "context": contexts[i],
            "future_covariates": torch.full((rows.shape[1], horizon), float("nan")),
            "n_targets": 1,
            "n_covariates": n_covariates,
            "n_future_covariates": 0,
        }
        for i in range(n)
    ]


def evaluation_log():
    """A transformers callback that keeps (step, validation loss) of every evaluation."""
    from transformers import TrainerCallback

    class EvaluationLog(TrainerCallback):
        def __init__(self):
            self.history: list[tuple[int, float]] = []

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metrics and "eval_loss" in metrics:
                self.history.append((state.global_step, float(metrics["eval_loss"])))

    return EvaluationLog()


def fine_tune(
    pipeline,
    *,
    train: list[dict],
    val: list[dict],
    horizon: int,
    context_length: int,
    settings,
    seed: int,
):
    """A new pipeline fine-tuned on `train` (early stopping on `val`), and what the run did."""
    from transformers import EarlyStoppingCallback

    variates = int(train[0]["context"].shape[0])
    log = evaluation_log()
    with tempfile.TemporaryDirectory(prefix="chronos2-fit-") as output_dir:
        tuned = pipeline.fit(
            train,
            prediction_length=horizon,
            validation_inputs=val,
            finetune_mode=settings.finetune,
            context_length=context_length,
            min_past=context_length,
            learning_rate=settings.lr,
            num_steps=settings.max_steps,
            batch_size=settings.batch_size * variates,  # the package counts series: windows x rows per window
            output_dir=output_dir,
            callbacks=[log, EarlyStoppingCallback(early_stopping_patience=settings.patience)],
            remove_printer_callback=True,
            eval_steps=settings.eval_every,
            save_steps=settings.eval_every,
            logging_steps=settings.eval_every,
            disable_tqdm=True,
            seed=seed,
            data_seed=seed,
        )
    model = tuned.model
    if hasattr(model, "merge_and_unload"):  # a LoRA adapter: fold it into the weights
        model = model.merge_and_unload()
    model.eval()
    best_step, best_loss = min(log.history, key=lambda entry: entry[1]) if log.history else (0, float("nan"))
    return model, {
        "finetune": settings.finetune,
        "finetune_steps": log.history[-1][0] if log.history else 0,
        "finetune_best_step": best_step,
        "finetune_best_val_loss": best_loss,
        "finetune_first_val_loss": log.history[0][1] if log.history else float("nan"),
        "finetune_evaluations": len(log.history),
        "finetune_train_windows": len(train),
        "finetune_val_windows": len(val),
    }
