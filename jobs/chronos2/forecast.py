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
and ~20% at 64, hence the default of 16 (on 2 CPU threads at 120M, 8 ran ~10% faster than 16: quick uses 8).
Precision (`precision`): float32 by default; bfloat16 runs the forward under torch.autocast (matrix products
in bfloat16, float32 accumulation). Scoring is compute-bound in float32 on a CPU (~40 GFLOP a window at 120M,
~290 GFLOP/s achieved on 2 threads, the machine's large-GEMM rate), so bfloat16 on a CPU with AMX is the one
lever left that is not fewer windows: ~2.7x, forecasts moving by ~1e-3 relative (the quick profile's choice).

Embeddings (the linear probe's features) come from the encoder (`Chronos2Model.encode`, which the
package's `embed()` calls): the target row's final hidden states of the [REG] token and of the
forecast token, concatenated. `embeddings()` runs its own encoder pass (the textbook form);
`quantiles_and_embeddings()` reads them from the forecast's own pass (a hook on the encoder), so a
window scored for both costs one pass instead of two. The two are the same tokens whenever the
horizon fits one output patch (16 steps): the forecast pass then has exactly encode()'s default
layout, context patches, [REG], one forecast token (the image suite checks they agree).
"""

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from jobs.common.covariates import CovariateSplit


class Forecaster:
    def __init__(
        self,
        model,
        *,
        horizon: int,
        use_covariates: bool,
        batch_windows: int,
        device: torch.device,
        precision: str = "float32",
    ):
        self.model, self.horizon, self.use_covariates = model, horizon, use_covariates
        self.batch_windows, self.device = batch_windows, device
        self.precision = precision
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
        return self._forecast(part, embed=False)[0]

    @torch.no_grad()
    def quantiles_and_embeddings(self, part: CovariateSplit) -> tuple[np.ndarray, np.ndarray]:
        """quantiles() and embeddings() from one encoder pass per batch (module docstring); only for a
        horizon within one output patch, where the forecast pass has the tokens embeddings() reads."""
        if self._steps() != 1:
            raise ValueError(f"horizon {self.horizon} spans {self._steps()} output patches: embed separately")
        return self._forecast(part, embed=True)

    @torch.no_grad()
    def embeddings(self, part: CovariateSplit) -> np.ndarray:
        """(n, 2 * d_model): the target row's [REG] and forecast-token hidden states."""
        self.model.eval()
        out = []
        for context, groups, future, variates in self._groups(part):
            with self._autocast():
                hidden = self.model.encode(context=context, group_ids=groups, future_covariates=future)[0][0]
            out.append(_target_tokens(hidden, variates))
        return torch.cat(out).numpy()

    def _autocast(self):
        """float32: the weights' own precision (the textbook form); bfloat16: torch.autocast runs the matrix
        products in bfloat16 (AMX on recent Intel CPUs, tensor cores on GPUs), accumulating in float32."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _forecast(self, part: CovariateSplit, *, embed: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The package's forward per batch; with `embed`, the encoder's final hidden states of the same
        pass are kept too (a forward hook: the forward's own tensors, nothing recomputed)."""
        self.model.eval()
        quantiles, embeddings, hidden = [], [], []
        hook = (
            self.model.encoder.register_forward_hook(lambda _m, _i, output: hidden.append(output.last_hidden_state))
            if embed
            else None
        )
        try:
            for context, groups, future, variates in self._groups(part):
                hidden.clear()
                with self._autocast():
                    predicted = self.model(
                        context=context,
                        group_ids=groups,
                        future_covariates=future.repeat(1, self._steps()),
                        num_output_patches=self._steps(),
                    ).quantile_preds  # (b * V, J, steps * patch)
                target_rows = predicted[::variates, :, : self.horizon]
                quantiles.append(target_rows.transpose(1, 2).cpu().double())
                if embed:
                    embeddings.append(_target_tokens(hidden[-1], variates))
        finally:
            if hook is not None:
                hook.remove()
        return torch.cat(quantiles).numpy(), torch.cat(embeddings).numpy() if embed else None


def _target_tokens(hidden: torch.Tensor, variates: int) -> torch.Tensor:
    """(b, 2 * d) from the encoder's (b * V, patches + 2, d): the target row's [REG] and forecast token."""
    target_rows = hidden[::variates]
    return torch.cat([target_rows[:, -2], target_rows[:, -1]], dim=1).cpu().double()
