"""TiRex-2 job: (spec, dataset, weights_dir) -> ModelOutput, in the tirex environment.

What the model sees per window (jobs.common.covariates): the target series x_s = log(High_s / Close_t)
over the spec's context, and, with `covariates` on (the default), the 24 other features as past
covariates, the same windows PatchTST gets. TiRex-2 forecasts the 9 quantiles 0.1..0.9 of x over
t+1..t+H through the package's own `ForecastModel.forecast` (the call a user writes); the event is
max_k x_{t+k} >= c with c = log(1 + threshold).

p, by mode (hyper-parameter `mode`; the package has no fine-tuning, so there is none here):
- 'zero-shot': H1 from the forecast distribution, P(x_{t+1} >= c) under the quantiles' interpolated
  CDF with exponential tails (jobs.common.quantiles.exceedance). H3 is a maximum over a path, which
  9 marginal quantiles per step do not determine, and TiRex-2 does not sample: p comes from the
  linear probe (jobs.common.probe) on the forecast's quantile features, fitted on training windows.
- 'linear-probe': the frozen model's stack output for the target variate at the last context patch
  -> the linear probe (L2 strength chosen on validation log loss).
Point score beside p, every mode: the median forecast path's maximum minus c.
Each split is forecast once (H > 1: the probe reuses the validation and test forecasts); the probe reads
the test split's features only after its choice.

`mlstm_kernel = "parallel"` (quick) runs the mLSTM cells in mlstm_kernels' parallel form over the unpadded
sequence instead of the package's chunkwise kernel, which zero-pads the 5 patches of an unpadded 80-day
context to its 64-token chunk: the same function (quantiles agree to float rounding), ~13x less mLSTM time.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jobs.common import quantiles
from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.covariates import CovariateSplit, CovariateWindows, spec_windows
from jobs.common.dataset import Dataset
from jobs.common.logistic import fit_logistic
from jobs.common.probe import linear_probe, require_both_classes
from jobs.common.settings import SpecSettings
from jobs.common.torch_setup import start_torch
from jobs.tirex.weights import QUANTILE_LEVELS, load, resolve_weights
from shared_schema import ExperimentSpec

PACKAGES = ("torch", "tirex-2", "flashrnn", "mlstm_kernels")
LEVELS = np.array(QUANTILE_LEVELS)


@dataclass(frozen=True)
class Settings(SpecSettings):
    mode: str
    covariates: bool
    pad_context: bool
    mlstm_kernel: str
    max_train_windows: int
    probe_l2: tuple[float, ...]
    predict_batch_size: int


class Forecaster:
    """The loaded ForecastModel and how one job calls it."""

    def __init__(self, model, settings: Settings, horizon: int):
        self.model, self.settings, self.horizon = model, settings, horizon

    def series(self, part: CovariateSplit) -> list:
        """One TimeseriesType per window: target (1, L), past covariates (24, L) or none."""
        import torch
        from tirex2 import TimeseriesType

        target = torch.from_numpy(part.target.astype(np.float32))
        covariates = torch.from_numpy(np.ascontiguousarray(part.covariates.transpose(0, 2, 1), dtype=np.float32))
        return [
            TimeseriesType(
                target=target[i : i + 1],
                past_covariates=covariates[i] if self.settings.covariates else None,
                future_covariates=None,
            )
            for i in range(len(target))
        ]

    def quantiles(self, part: CovariateSplit) -> np.ndarray:
        """(n, H, 9) forecast quantiles of x_{t+1..t+H}."""
        forecasts = self.model.forecast(
            self.series(part),
            prediction_length=self.horizon,
            output_type="numpy",
            batch_size=self.settings.predict_batch_size,
            pad_context=self.settings.pad_context,
        )
        stacked = np.stack([f[0] for f in forecasts]).astype(np.float64)  # (n, 9, H): one target per window
        return stacked.transpose(0, 2, 1)

    def embeddings(self, part: CovariateSplit) -> np.ndarray:
        """(n, D): the stack output (after its final norm) of the target variate's last context patch."""
        import torch

        core = self.model.model
        rows = self.series(part)
        out = []
        with torch.no_grad():
            for start in range(0, len(rows), self.settings.predict_batch_size):
                chunk = rows[start : start + self.settings.predict_batch_size]
                _, batch, _, _ = core._prepare_input(
                    chunk, self.horizon, core.tta_diff, pad_context=self.settings.pad_context
                )
                tokens, group, target_mask, known, _, _ = core._prepare_forward(batch)
                *_, x = core._forward_layerwise(tokens, group, target_mask, known)  # the last block's output
                x = core.stack_out_norm(x)
                last_context = x.shape[1] - core.future_len // core.output_patch_size - 1
                out.append(x[target_mask, last_context].cpu().double().numpy())
        return np.concatenate(out)


def use_parallel_mlstm(model) -> int:
    """Every mLSTM cell's kernel switched from mlstm_kernels' chunkwise form (the package's CPU choice, which
    pads the sequence with zeros to its 64-token chunk: 5 patches of an unpadded 80-day context become 64)
    to its parallel (quadratic) form over the unpadded sequence: the same function, for a short sequence far
    less work. Returns how many cells were switched."""
    import dataclasses

    from mlstm_kernels.torch.backend_module import mLSTMBackend
    from tirex2.model.component.mlstm_block import mLSTMLayer

    cells = [module for module in model.model.modules() if isinstance(module, mLSTMLayer)]
    for cell in cells:  # a bidirectional block's two directions share one cell
        config = dataclasses.replace(
            cell.mlstm_backend.config, chunkwise_kernel="parallel--native_autograd", mode="train"
        )
        cell.mlstm_backend = mLSTMBackend(config)
    return len(cells)


def quantile_probe(
    forecaster: Forecaster,
    windows: CovariateWindows,
    train: CovariateSplit,
    settings: Settings,
    forecasts: dict[str, np.ndarray],
):
    """H > 1: the linear probe on each window's quantile features (jobs.common.quantiles.quantile_features).
    `forecasts`: the validation and test quantiles the job already made (for the point score), reused rather
    than forecast a second time; the training windows are forecast here."""
    chosen = {"train": train, "val": windows.val, "test": windows.test}

    def split_quantiles(name: str) -> np.ndarray:
        return forecasts[name] if name in forecasts else forecaster.quantiles(chosen[name])

    return linear_probe(
        embed=lambda name: quantiles.quantile_features(LEVELS, split_quantiles(name), chosen[name].barrier),
        train_y=train.y,
        val_y=windows.val.y,
        strengths=settings.probe_l2,
        fit=fit_logistic,
    )


def embedding_probe(forecaster: Forecaster, windows: CovariateWindows, train: CovariateSplit, settings: Settings):
    chosen = {"train": train, "val": windows.val, "test": windows.test}
    return linear_probe(
        embed=lambda name: forecaster.embeddings(chosen[name]),
        train_y=train.y,
        val_y=windows.val.y,
        strengths=settings.probe_l2,
        fit=fit_logistic,
    )


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir)  # fails fast, before torch loads anything
    device = start_torch(spec)
    windows = spec_windows(dataset, spec)
    train = windows.train.recent(settings.max_train_windows)
    model = load(resolved, device.type)
    if settings.mlstm_kernel == "parallel":
        use_parallel_mlstm(model)
    forecaster = Forecaster(model, settings, spec.horizon)
    started = time.perf_counter()
    forecasts = {name: forecaster.quantiles(windows.split(name)) for name in ("val", "test")}
    scores = {name: quantiles.point_score(LEVELS, forecasts[name], windows.split(name).barrier) for name in forecasts}
    notes: dict = {
        "mode": settings.mode,
        "quantile_levels": ",".join(f"{q:g}" for q in QUANTILE_LEVELS),
        "tail_rule": "exponential tails through the two outermost quantiles (jobs.common.quantiles)",
        "point_score": "max over t+1..t+H of the median forecast of log(High/Close_t), minus log(1 + threshold)",
        "pad_context": settings.pad_context,
        "mlstm_kernel": settings.mlstm_kernel,
        "fine_tuning": "none: the tirex-2 package has no fine-tuning",
    }
    n_train = 0
    n_parameters = sum(p.numel() for p in model.model.parameters())
    probed = settings.mode == "linear-probe" or spec.horizon > 1
    if probed:
        require_both_classes(train.y, "the linear probe")
    if settings.mode == "linear-probe":
        probabilities, choice = embedding_probe(forecaster, windows, train, settings)
        notes |= {"p_method": "linear probe on the target variate's last-context-patch embedding"}
    elif spec.horizon == 1:
        probabilities = {
            name: quantiles.exceedance(LEVELS, forecasts[name][:, 0, :], windows.split(name).barrier)
            for name in forecasts
        }
        choice = None
        n_train = len(windows.train.y)
        notes |= {
            "p_method": "1 - F(c) from the forecast quantiles of t+1",
            "n_train_note": "zero-shot: no training windows were used; n_train counts those available",
        }
    else:
        probabilities, choice = quantile_probe(forecaster, windows, train, settings, forecasts)
        notes |= {"p_method": "linear probe on quantile features (H > 1: a path maximum; TiRex-2 does not sample)"}
    if choice is not None:
        notes |= {
            "probe_l2": choice.l2,
            "probe_val_log_loss": choice.val_log_loss,
            "probe_features": int(choice.weights.size),
        }
        n_train = len(train.y)
        n_parameters += int(choice.weights.size) + 1
    predicted = time.perf_counter()
    return ModelOutput(
        val=SplitPredictions(windows.val.dates, windows.val.y, probabilities["val"], scores["val"]),
        test=SplitPredictions(windows.test.dates, windows.test.y, probabilities["test"], scores["test"]),
        n_parameters=n_parameters,
        n_train=n_train,
        weights=resolved.source,
        train_seconds=0.0,
        predict_seconds=predicted - started,
        device=device.type,
        packages=PACKAGES,
        notes=notes,
        inputs=windows.inputs("past covariates" if settings.covariates else None),
    )
