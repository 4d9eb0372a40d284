"""PatchTST-FM r1 job: (spec, dataset, weights_dir) -> ModelOutput, in the granite environment.

PatchTST-FM is a pre-trained PatchTST (the same architecture the study trains from scratch), so this
job isolates pre-training. It is channel-independent: each channel is forecast from its own past,
so the 24 other features could not change the target's forecast and are not given (the result's
`inputs` says so). What it sees per window (jobs.common.covariates): x_s = log(High_s / Close_t)
over the spec's context. It forecasts 99 quantiles (0.01..0.99) of x over t+1..t+H by masked-patch
completion: `PatchTSTFMForPrediction.forward(past_values, prediction_length)`, the package's call.

Modes (hyper-parameter `mode`):
- 'zero-shot': the checkpoint as is.
- 'fine-tune': AdamW on the package's own pre-training objective, the quantile (pinball) loss of the
  99 quantiles on masked positions in RevIN-normalised units (as `PatchTSTFMForPretraining`), here
  with the forecast region masked: context = the window, target = x over t+1..t+H of training
  windows. Validation loss every `eval_every` steps, early stopping after `patience` evaluations
  without improvement, the best weights restored. The test split is never seen.
- 'linear-probe': the frozen model's last transformer block output at the last context patch -> the
  linear probe (jobs.common.probe), L2 strength chosen on validation log loss.
p in 'zero-shot' and 'fine-tune': H1 is 1 - F(c) under the 99 quantiles of t+1 (jobs.common.quantiles,
its tail rule); H > 1 is a path maximum that marginal quantiles do not determine and the model does
not sample, so p comes from the linear probe on the forecast's quantile features.
Point score beside p, every mode: the median forecast path's maximum minus c = log(1 + threshold).
"""

import math
import time
from pathlib import Path

import numpy as np

from jobs.common import quantiles
from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.covariates import CovariateSplit, CovariateWindows, spec_windows
from jobs.common.dataset import Dataset
from jobs.common.errors import JobError
from jobs.common.finetune import fit_early_stopping
from jobs.common.logistic import fit_logistic
from jobs.common.probe import linear_probe, require_both_classes
from jobs.common.torch_setup import start_torch
from jobs.granite.tuning import GRAD_CLIP, PACKAGES, Settings, future_values
from jobs.granite.weights import PATCHTSTFM, load_pretrained, resolve_weights
from shared_schema import ExperimentSpec


class Forecaster:
    """The loaded PatchTSTFMForPrediction and how one job calls it."""

    def __init__(self, model, settings: Settings, horizon: int, device):
        self.model, self.settings, self.horizon, self.device = model, settings, horizon, device
        config = model.config
        self.levels = np.array(config.quantile_levels)
        # the masked forecast region the package appends to the context (PatchTSTFMForPrediction.forward)
        self.forecast_length = max(horizon, config.d_patch * max(config.pretrain_mask_cont, 2))

    def _batches(self, target: np.ndarray):
        import torch

        for start in range(0, len(target), self.settings.predict_batch_size):
            chunk = target[start : start + self.settings.predict_batch_size]
            yield torch.from_numpy(chunk.astype(np.float32)).to(self.device)

    def quantiles(self, part: CovariateSplit) -> np.ndarray:
        """(n, H, 99) forecast quantiles of x_{t+1..t+H}."""
        import torch

        self.model.eval()
        out = []
        with torch.no_grad():
            for batch in self._batches(part.target):
                forecast = self.model(past_values=batch, prediction_length=self.horizon, return_dict=True)
                out.append(forecast.quantile_outputs[..., 0].cpu().double().numpy())  # (B, Q, H)
        return np.concatenate(out).transpose(0, 2, 1)

    def embeddings(self, part: CovariateSplit) -> np.ndarray:
        """(n, d_model): the last transformer block's output at the last context patch (the forecast
        region is the final forecast_length / d_patch patches)."""
        import torch

        captured = []
        hook = self.model.backbone.blocks[-1].register_forward_hook(lambda _m, _i, output: captured.append(output))
        self.model.eval()
        out = []
        try:
            with torch.no_grad():
                for batch in self._batches(part.target):
                    captured.clear()
                    self.model(past_values=batch, prediction_length=self.horizon, return_dict=True)
                    hidden = captured[-1]
                    last_context = hidden.shape[1] - self.forecast_length // self.model.config.d_patch - 1
                    out.append(hidden[:, last_context].cpu().double().numpy())
        finally:
            hook.remove()
        return np.concatenate(out)


def masked_inputs(context, future, config, forecast_length: int):
    """The tensors PatchTSTFMForPrediction builds for a forecast, with the true future (n, H) written
    into the masked forecast region so the loss can read it: left padding (context mean, pad mask),
    the context, then `forecast_length` masked steps of which the first H are observed targets and
    the rest missing (outside the loss). Returns (inputs, pred_mask, miss_mask, pad_mask, used length)."""
    import torch

    n, length = context.shape
    used = length + forecast_length
    if used > config.context_length:
        raise JobError(
            f"context {length} + forecast region {forecast_length} exceed the model's {config.context_length}"
        )
    region = torch.full((n, forecast_length), float("nan"), dtype=context.dtype, device=context.device)
    region[:, : future.shape[1]] = future
    mean = context.mean(dim=1, keepdim=True)
    left = config.context_length - used
    values = torch.cat([mean.expand(n, left), context, region], dim=1)
    pred_mask = torch.zeros_like(values, dtype=torch.bool)
    pred_mask[:, -forecast_length:] = True
    pad_mask = torch.zeros_like(pred_mask)
    pad_mask[:, :left] = True
    miss_mask = torch.isnan(values)
    values = torch.where(miss_mask, mean.expand_as(values), values)
    return values, pred_mask, miss_mask, pad_mask, used


def forecast_loss(model, context, future, forecast_length: int):
    """The package's pre-training loss (PatchTSTFMForPretraining.forward: 2 |(x - q)(1{x <= q} - tau)|
    summed over quantiles, averaged over observed masked positions, / sqrt(Q)), on the forecast region,
    with the leading padding pruned as the package prunes it at prediction time."""
    import torch

    config = model.config
    values, pred_mask, miss_mask, pad_mask, used = masked_inputs(context, future, config, forecast_length)
    output = model.backbone(
        inputs=values,
        pred_mask=pred_mask,
        miss_mask=miss_mask,
        pad_mask=pad_mask,
        return_loss=True,
        context_length=used,
    )
    target = output.normed_target.unsqueeze(-1)
    predicted = output.quantile_outputs
    levels = torch.tensor(config.quantile_levels, device=target.device, dtype=predicted.dtype).view(1, 1, -1)
    loss = 2 * torch.abs((target - predicted) * ((target <= predicted).to(predicted.dtype) - levels))
    mask = output.loss_mask
    loss = (loss * mask.unsqueeze(-1)).sum(dim=1) / torch.clamp(mask.sum(dim=1, keepdim=True), min=1)
    return loss.sum(dim=-1).mean() / math.sqrt(config.num_quantile)


def fine_tune(forecaster: Forecaster, train: tuple, val: tuple, settings: Settings, seed: int) -> dict:
    """AdamW on forecast_loss over training windows; best validation loss kept (module docstring)."""
    import torch

    model, device = forecaster.model, forecaster.device
    (train_context, train_future), (val_context, val_future) = (
        tuple(torch.from_numpy(a.astype(np.float32)).to(device) for a in pair) for pair in (train, val)
    )

    def validation_loss() -> float:
        model.eval()
        with torch.no_grad():
            losses = [
                float(
                    forecast_loss(model, val_context[s : s + 256], val_future[s : s + 256], forecaster.forecast_length)
                )
                * len(val_context[s : s + 256])
                for s in range(0, len(val_context), 256)
            ]
        return sum(losses) / len(val_context)

    def train_loss(picks: np.ndarray) -> torch.Tensor:
        return forecast_loss(
            model,
            train_context[torch.from_numpy(picks)],
            train_future[torch.from_numpy(picks)],
            forecaster.forecast_length,
        )

    fit = fit_early_stopping(
        model,
        train_loss=train_loss,
        train_size=len(train_context),
        validation_loss=validation_loss,
        settings=settings,
        seed=seed,
        grad_clip=GRAD_CLIP,
    )
    return {
        "finetune_steps": fit.steps,
        "finetune_best_step": fit.best_step,
        "finetune_initial_val_loss": fit.initial_val,
        "finetune_best_val_loss": fit.best_val,
        "finetune_first_train_loss": fit.first_train,
        "finetune_last_train_loss": fit.last_train,
    }


def probe(embed, windows: CovariateWindows, train: CovariateSplit, settings: Settings):
    """The linear probe on `embed(split name, split)` features of the training, validation and test windows."""
    chosen = {"train": train, "val": windows.val, "test": windows.test}
    return linear_probe(
        embed=lambda name: embed(name, chosen[name]),
        train_y=train.y,
        val_y=windows.val.y,
        strengths=settings.probe_l2,
        fit=fit_logistic,
    )


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir, PATCHTSTFM)  # fails fast, before torch loads anything
    from tsfm_public.models.patchtst_fm import PatchTSTFMForPrediction

    device = start_torch(spec)
    windows = spec_windows(dataset, spec)
    train = windows.train.recent(settings.max_train_windows)
    probed = settings.mode == "linear-probe" or spec.horizon > 1
    if probed:
        require_both_classes(train.y, "the linear probe")
    model = load_pretrained(PatchTSTFMForPrediction, resolved).to(device)
    forecaster = Forecaster(model, settings, spec.horizon, device)
    notes: dict = {
        "mode": settings.mode,
        "quantile_levels": f"{len(forecaster.levels)} levels, {forecaster.levels[0]:g}..{forecaster.levels[-1]:g}",
        "tail_rule": "exponential tails through the two outermost quantiles (jobs.common.quantiles)",
        "point_score": "max over t+1..t+H of the median forecast of log(High/Close_t), minus log(1 + threshold)",
        "covariates_not_given": "channel-independent model: other channels cannot change the target's forecast",
    }
    started = time.perf_counter()
    if settings.mode == "fine-tune":
        val = windows.val.recent(settings.max_val_windows)
        notes |= fine_tune(
            forecaster,
            (train.target, future_values(dataset, train, spec.horizon)),
            (val.target, future_values(dataset, val, spec.horizon)),
            settings,
            spec.seed,
        )
        notes["finetune_train_windows"], notes["finetune_val_windows"] = len(train.y), len(val.y)
    trained = time.perf_counter()
    forecasts = {name: forecaster.quantiles(windows.split(name)) for name in ("val", "test")}
    levels = forecaster.levels
    scores = {name: quantiles.point_score(levels, forecasts[name], windows.split(name).barrier) for name in forecasts}
    n_parameters = sum(p.numel() for p in model.parameters())
    n_train = len(train.y)
    if settings.mode == "linear-probe":
        probabilities, choice = probe(lambda _name, part: forecaster.embeddings(part), windows, train, settings)
        notes["p_method"] = "linear probe on the last block's output at the last context patch"
    elif spec.horizon == 1:
        probabilities = {
            name: quantiles.exceedance(levels, forecasts[name][:, 0, :], windows.split(name).barrier)
            for name in forecasts
        }
        choice = None
        notes["p_method"] = "1 - F(c) from the forecast quantiles of t+1"
        if settings.mode == "zero-shot":
            n_train = len(windows.train.y)
            notes["n_train_note"] = "zero-shot: no training windows were used; n_train counts those available"
    else:
        probabilities, choice = probe(  # the validation and test forecasts above are reused, not recomputed
            lambda name, part: quantiles.quantile_features(
                levels, forecasts[name] if name in forecasts else forecaster.quantiles(part), part.barrier
            ),
            windows,
            train,
            settings,
        )
        notes["p_method"] = "linear probe on quantile features (H > 1: a path maximum; the model does not sample)"
    if choice is not None:
        notes |= {
            "probe_l2": choice.l2,
            "probe_val_log_loss": choice.val_log_loss,
            "probe_features": int(choice.weights.size),
        }
        n_parameters += int(choice.weights.size) + 1
    predicted = time.perf_counter()
    return ModelOutput(
        val=SplitPredictions(windows.val.dates, windows.val.y, probabilities["val"], scores["val"]),
        test=SplitPredictions(windows.test.dates, windows.test.y, probabilities["test"], scores["test"]),
        n_parameters=n_parameters,
        n_train=n_train,
        weights=resolved.source,
        train_seconds=trained - started,
        predict_seconds=predicted - trained,
        device=device.type,
        packages=PACKAGES,
        notes=notes,
        inputs=windows.inputs(None),
    )
