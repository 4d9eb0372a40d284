"""One job's loaded TimesFM and its compiled functions: forecasts through the package's API
(zero-shot and after fine-tuning) and the differentiable forward's embeddings (the linear probe)."""

import dataclasses

import numpy as np

from jobs.common.probe import clip_probability
from jobs.timesfm.data import SplitSeries, batches
from jobs.timesfm.probability import max_exceedance
from jobs.timesfm.settings import Settings
from shared_schema import ExperimentSpec


class Runner:
    """Holds the loaded model and the jitted functions of one job."""

    def __init__(self, wrapper, spec: ExperimentSpec, settings: Settings):
        from jobs.timesfm import model as tfm_model

        self.tfm_model = tfm_model
        self.wrapper = wrapper
        self.spec = spec
        self.settings = settings
        self._compiled = False

    @property
    def module(self):
        return self.wrapper.model

    # -- zero-shot style forecasting through the package's compiled API ---------------------------
    def forecast_channels(self, series: SplitSeries) -> np.ndarray:
        """(n, H, 10) of log High_{t+1..t+H} from the package's `forecast`: channel 0 the mean head,
        channels 1..9 the 0.1..0.9 quantiles."""
        if not self._compiled:  # nnx splits the module at each call: fine-tuned values are used
            fc = self.tfm_model.forecast_config(self.spec.context_length, use_flip=self.settings.flip_invariance)
            fc = dataclasses.replace(fc, per_core_batch_size=self.settings.predict_batch_size)
            self.wrapper.compile(fc, dryrun=False)
            self._compiled = True
        inputs = [row.astype(np.float64) for row in series.context]  # `forecast` pads this list in place
        _, channels = self.wrapper.forecast(horizon=self.spec.horizon, inputs=inputs)
        return np.asarray(channels[:, : self.spec.horizon, :10], dtype=np.float64)

    def probabilities(self, series: SplitSeries) -> tuple[np.ndarray, np.ndarray]:
        """P(hit) from the quantiles, and the point score from the mean head of the same forecast:
        max_k mean_k - log(Close_t) - log(1 + threshold)."""
        channels = self.forecast_channels(series)
        p = max_exceedance(channels[..., 1:10], series.c, dependence=self.settings.dependence, seed=self.spec.seed)
        return clip_probability(p), channels[..., 0].max(axis=-1) - series.c

    # -- differentiable forward (fine-tune, probe) ------------------------------------------------
    def padded(self, context: np.ndarray):
        return self.tfm_model.pad_left(context, self.module.p)

    def embeddings(self, series: SplitSeries) -> np.ndarray:
        import jax
        from flax import nnx

        graphdef, state = nnx.split(self.module)

        @jax.jit
        def embed(state, values, masks):
            module = nnx.merge(graphdef, state)
            return self.tfm_model.forward(module, values, masks)[0]

        size = self.settings.predict_batch_size
        values, masks = self.padded(series.context)
        chunks = []
        for start, stop in batches(len(values), size):
            v, m = values[start:stop], masks[start:stop]
            pad = size - len(v)
            if pad:
                v = np.concatenate([v, np.repeat(v[-1:], pad, 0)])
                m = np.concatenate([m, np.repeat(m[-1:], pad, 0)])
            chunks.append(np.asarray(embed(state, v, m))[: stop - start])
        return np.concatenate(chunks).astype(np.float64)
