"""Chronos-2 over the study's windows: quantile forecasts and encoder embeddings, batched.

Each window is one Chronos-2 task (a group): the target series first, then, when the model sees
covariates, the 24 other features as past-only covariates. This is exactly the batch the package's
pipeline builds from `predict([{"target": ..., "past_covariates": {...}}])` (the image suite checks
the two agree): every row of a group shares its group id, and the covariates' future values are
unknown (NaN), so the model forecasts the target from its own history and the covariates' history.
The job calls the model on these tensors directly, `predict_batch_size` windows per call, instead of
through the pipeline's per-dict preprocessing (benchmarks/bench_foundation.py compares the two).
Batch size: Chronos-2's group attention runs over every row of a batch, masked to each group, so its
cost per window grows with the batch (b * 25 rows attend to b * 25 rows); the linear layers' cost per
window does not. At d_model 768 the masked-out part is ~5% of a window's work at 16 windows per batch
and ~20% at 64, hence the default of 16.

Embeddings (the linear probe's features) come from the same encoder pass (`Chronos2Model.encode`,
which the package's `embed()` calls): the target row's final hidden states of the [REG] token and
of the forecast token, concatenated.
"""

from collections.abc import Iterator

import numpy as np
import torch

from jobs.common.covariates import CovariateSplit


class Forecaster:
    def __init__(self, model, *, horizon: int, use_covariates: bool, batch_windows: int, device: torch.device):
        self.model, self.horizon, self.use_covariates = model, horizon, use_covariates
        self.batch_windows, self.device = batch_windows, device
        self.patch = model.chronos_config.output_patch_size
        self.levels = np.array(model.chronos_config.quantiles, dtype=np.float64)

    def _groups(self, part: CovariateSplit) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]]:
        """(context (b * V, L), group ids (b * V,), future covariates (b * V, patch), all NaN, V) per batch;
        V (rows per window) is known here, so nothing is read back from the device to find it."""
        for start in range(0, len(part.rows), self.batch_windows):
            target = torch.from_numpy(part.target[start : start + self.batch_windows]).float()[:, None, :]
            if self.use_covariates:
                covariates = torch.from_numpy(part.covariates[start : start + self.batch_windows]).float()
                rows = torch.cat([target, covariates.transpose(1, 2)], dim=1)  # (b, 1 + F, L)
            else:
                rows = target
            windows, variates, length = rows.shape
            groups = torch.arange(windows).repeat_interleave(variates)
            future = torch.full((windows * variates, self.patch), float("nan"))
            yield (
                rows.reshape(windows * variates, length).to(self.device),
                groups.to(self.device),
                future.to(self.device),
                variates,
            )

    def _steps(self) -> int:
        return -(-self.horizon // self.patch)  # output patches covering the horizon

    @torch.no_grad()
    def quantiles(self, part: CovariateSplit) -> np.ndarray:
        """(n, H, J) forecast quantiles of the target over t+1..t+H, at `self.levels`."""
        self.model.eval()
        out = []
        for context, groups, future, variates in self._groups(part):
            future = future.repeat(1, self._steps())
            predicted = self.model(
                context=context, group_ids=groups, future_covariates=future, num_output_patches=self._steps()
            ).quantile_preds  # (b * V, J, steps * patch)
            target_rows = predicted[::variates, :, : self.horizon]
            out.append(target_rows.transpose(1, 2).cpu().double())
        return torch.cat(out).numpy()

    @torch.no_grad()
    def embeddings(self, part: CovariateSplit) -> np.ndarray:
        """(n, 2 * d_model): the target row's [REG] and forecast-token hidden states."""
        self.model.eval()
        out = []
        for context, groups, future, variates in self._groups(part):
            hidden = self.model.encode(context=context, group_ids=groups, future_covariates=future)[0][0]
            target_rows = hidden[::variates]  # (b, patches + 2, d): input patches, [REG], forecast token
            out.append(torch.cat([target_rows[:, -2], target_rows[:, -1]], dim=1).cpu().double())
        return torch.cat(out).numpy()
