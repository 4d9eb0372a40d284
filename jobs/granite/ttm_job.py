"""TTM r2.1 (TinyTimeMixer, daily 90-step context) job: (spec, dataset, weights_dir) -> ModelOutput,
in the granite environment.

What the model sees per window (jobs.common.covariates): x_s = log(High_s / Close_t) over the spec's
context, left-padded to the checkpoint's context (90 days for the daily r2.1 model) with the first
value, the padded steps marked unobserved (`past_observed_mask`). When fine-tuning, the 24 other
features are given too, as exogenous channels mixed into the target's forecast by the decoder
(`decoder_mode="mix_channel"`, `prediction_channel_indices=[0]`); their future values are never
given (forecast channel mixing, which reads them, stays off): they are past covariates here.

TTM forecasts a point path (the published checkpoints are trained on MSE), so p comes from the
point forecast: point_score = max_k x̂_{t+k} - c (c = log(1 + threshold)), and
p = sigmoid(a * point_score + b) with (a, b) fitted on training windows (a monotone map, as the
Timer job does): no distribution is claimed. Modes (hyper-parameter `mode`):
- 'zero-shot': the checkpoint as published, the target series alone.
- 'fine-tune': AdamW on the published objective, MSE of the target's first H forecast steps, over
  training windows with the exogenous channels; validation MSE every `eval_every` steps, early
  stopping after `patience` evaluations without improvement, the best weights restored; then the
  calibration (its training scores are in-sample for the fine-tuned model; the notes say so).
- 'linear-probe': the frozen checkpoint's backbone output for the target at the last patch -> the
  linear probe (jobs.common.probe), L2 strength chosen on validation log loss.
"""

import time
from pathlib import Path

import numpy as np

from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.covariates import CovariateSplit, spec_windows
from jobs.common.dataset import Dataset
from jobs.common.errors import JobError
from jobs.common.finetune import fit_early_stopping
from jobs.common.logistic import fit_logistic
from jobs.common.probe import linear_probe, require_both_classes, sigmoid
from jobs.common.torch_setup import start_torch
from jobs.granite.tuning import GRAD_CLIP, PACKAGES, Settings, future_values
from jobs.granite.weights import TTM, load_pretrained, resolve_weights
from shared_schema import ExperimentSpec

CALIBRATION_L2 = 1e-4


def model_inputs(part: CovariateSplit, context_length: int, *, exogenous: bool):
    """(past_values (n, context_length, C), past_observed_mask): the target (channel 0), then the 24
    features if `exogenous`, left-padded with each channel's first value and marked unobserved."""
    import torch

    channels = [part.target[:, :, None]] + ([part.covariates] if exogenous else [])
    values = np.concatenate(channels, axis=2).astype(np.float32)
    n, length, width = values.shape
    if length > context_length:
        raise JobError(f"context {length} days is longer than the checkpoint's {context_length}")
    pad = context_length - length
    padded = np.concatenate([np.repeat(values[:, :1], pad, axis=1), values], axis=1)
    observed = np.ones((n, context_length, width), dtype=bool)
    observed[:, :pad] = False
    return torch.from_numpy(padded), torch.from_numpy(observed)


class Forecaster:
    def __init__(self, model, settings: Settings, horizon: int, device, *, exogenous: bool):
        self.model, self.settings, self.horizon, self.device, self.exogenous = (
            model,
            settings,
            horizon,
            device,
            exogenous,
        )

    def _batches(self, part: CovariateSplit):
        """predict_batch_size counts series per forward pass (windows x channels): 512 target series zero-shot,
        20 windows of 25 channels with the exogenous ones (measured on 2 CPU threads: with 25 channels, 512
        windows a call ran 2.2x slower than 20, the tensors outgrowing the caches)."""
        values, observed = model_inputs(part, self.model.config.context_length, exogenous=self.exogenous)
        windows = max(1, self.settings.predict_batch_size // values.shape[2])
        for start in range(0, len(values), windows):
            yield values[start : start + windows].to(self.device), observed[start : start + windows].to(self.device)

    def point_paths(self, part: CovariateSplit) -> np.ndarray:
        """(n, H) point forecast of x over t+1..t+H (the target channel)."""
        import torch

        self.model.eval()
        with torch.no_grad():
            paths = [
                self.model(past_values=v, past_observed_mask=m, return_dict=True).prediction_outputs[
                    :, : self.horizon, 0
                ]
                for v, m in self._batches(part)
            ]
        return torch.cat(paths).cpu().double().numpy()

    def point_scores(self, part: CovariateSplit) -> np.ndarray:
        return self.point_paths(part).max(axis=1) - part.barrier

    def embeddings(self, part: CovariateSplit) -> np.ndarray:
        """(n, d_model): the backbone's output for the target channel at the last patch."""
        import torch

        self.model.eval()
        with torch.no_grad():
            parts = [
                self.model(
                    past_values=v, past_observed_mask=m, output_hidden_states=True, return_dict=True
                ).backbone_hidden_state[:, 0, -1, :]
                for v, m in self._batches(part)
            ]
        return torch.cat(parts).cpu().double().numpy()


def fine_tune(
    forecaster: Forecaster, dataset: Dataset, train: CovariateSplit, val: CovariateSplit, settings: Settings, seed: int
) -> dict:
    """AdamW on the target's H-step MSE (the model's own loss with future_values), best validation kept."""
    import torch

    model, device, horizon = forecaster.model, forecaster.device, forecaster.horizon
    context = model.config.context_length

    def tensors(part: CovariateSplit):
        values, observed = model_inputs(part, context, exogenous=True)
        future = np.zeros((len(part.rows), horizon, values.shape[2]), dtype=np.float32)
        future[:, :, 0] = future_values(dataset, part, horizon)  # the target; the 24 features' futures stay unknown
        return values.to(device), observed.to(device), torch.from_numpy(future).to(device)

    train_values, train_observed, train_future = tensors(train)
    val_values, val_observed, val_future = tensors(val)

    def loss_of(values, observed, future):
        return model(past_values=values, past_observed_mask=observed, future_values=future, return_dict=True).loss

    def validation_mse() -> float:
        model.eval()
        with torch.no_grad():
            return float(loss_of(val_values, val_observed, val_future))

    def train_loss(picks: np.ndarray) -> torch.Tensor:
        return loss_of(*(t[torch.from_numpy(picks)] for t in (train_values, train_observed, train_future)))

    fit = fit_early_stopping(
        model,
        train_loss=train_loss,
        train_size=len(train_values),
        validation_loss=validation_mse,
        settings=settings,
        seed=seed,
        grad_clip=GRAD_CLIP,
    )
    return {
        "finetune_steps": fit.steps,
        "finetune_best_step": fit.best_step,
        "finetune_initial_val_mse": fit.initial_val,
        "finetune_best_val_mse": fit.best_val,
        "finetune_first_train_mse": fit.first_train,
        "finetune_last_train_mse": fit.last_train,
        "finetune_train_windows": len(train.rows),
        "finetune_val_windows": len(val.rows),
    }


def load(resolved, spec: ExperimentSpec, *, exogenous: bool):
    """The checkpoint as published, or with its decoder mixing the 24 exogenous channels into the
    target's forecast (the mixing layers are new: they start from their initialisation)."""
    from tsfm_public.models.tinytimemixer import TinyTimeMixerForPrediction

    if not exogenous:
        return load_pretrained(TinyTimeMixerForPrediction, resolved)
    return load_pretrained(
        TinyTimeMixerForPrediction,
        resolved,
        num_input_channels=25,
        decoder_mode="mix_channel",
        prediction_channel_indices=[0],
        prediction_filter_length=spec.horizon,
    )


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir, TTM)  # fails fast, before torch loads anything
    device = start_torch(spec)
    windows = spec_windows(dataset, spec)
    train = windows.train.recent(settings.max_train_windows)
    require_both_classes(train.y, "calibrating p (or the linear probe)")
    exogenous = settings.mode == "fine-tune"
    model = load(resolved, spec, exogenous=exogenous).to(device)
    if spec.horizon > model.config.prediction_length:
        raise JobError(
            f"horizon {spec.horizon} exceeds the checkpoint's {model.config.prediction_length}-step forecast"
        )
    forecaster = Forecaster(model, settings, spec.horizon, device, exogenous=exogenous)
    notes: dict = {
        "mode": settings.mode,
        "point_score": "max over t+1..t+H of the point forecast of log(High/Close_t), minus log(1 + threshold)",
        "padded_context": f"{spec.context_length} days left-padded to {model.config.context_length}, padding unobserved",
    }
    started = time.perf_counter()
    if exogenous:
        notes |= fine_tune(
            forecaster, dataset, train, windows.val.recent(settings.max_val_windows), settings, spec.seed
        )
        notes["calibration_in_sample"] = True
    trained = time.perf_counter()
    scores = {name: forecaster.point_scores(windows.split(name)) for name in ("val", "test")}
    n_parameters = sum(p.numel() for p in model.parameters())
    if settings.mode == "linear-probe":
        chosen = {"train": train, "val": windows.val, "test": windows.test}
        probabilities, choice = linear_probe(
            embed=lambda name: forecaster.embeddings(chosen[name]),
            train_y=train.y,
            val_y=windows.val.y,
            strengths=settings.probe_l2,
            fit=fit_logistic,
        )
        notes |= {
            "p_method": "linear probe on the backbone output of the target's last patch",
            "probe_l2": choice.l2,
            "probe_val_log_loss": choice.val_log_loss,
            "probe_features": int(choice.weights.size),
        }
        n_parameters += int(choice.weights.size) + 1
    else:
        (a,), b = fit_logistic(forecaster.point_scores(train)[:, None], train.y, CALIBRATION_L2)
        probabilities = {name: sigmoid(a * s + b) for name, s in scores.items()}
        notes |= {
            "p_method": "sigmoid(a * point_score + b), (a, b) fitted on training windows (a point forecast: no distribution)",
            "calibration_a": float(a),
            "calibration_b": float(b),
        }
    predicted = time.perf_counter()
    return ModelOutput(
        val=SplitPredictions(windows.val.dates, windows.val.y, probabilities["val"], scores["val"]),
        test=SplitPredictions(windows.test.dates, windows.test.y, probabilities["test"], scores["test"]),
        n_parameters=n_parameters,
        n_train=len(train.y),
        weights=resolved.source,
        train_seconds=trained - started,
        predict_seconds=predicted - trained,
        device=device.type,
        packages=PACKAGES,
        notes=notes,
        inputs=windows.inputs("exogenous channels" if exogenous else None),
    )
