"""TiRex 1.x frozen-embedding classifier job: (spec, dataset, weights_dir) -> ModelOutput, in the tirex env.

What the model sees per window (jobs.common.covariates, role "variates"): 25 series of the spec's
context length, the target x_s = log(High_s / Close_t) and the 24 other features exactly as PatchTST
gets them, as one (25, L) input of the package's `TiRexEmbedding`: each variate is embedded on its
own by the frozen TiRex (the model scales each series by its own mean and spread), the hidden states
of every block averaged over the window's patches, L2- and layer-normalised per window, and the
variates and blocks concatenated. With `data_augmentation` (the package's option) the embedding of
the first differences and per-patch statistics are added; the package standardises those statistics
with the embedded batch's own mean and spread, which would let validation and test windows shape each
other's features, so here they are standardised with the training windows' statistics instead
(`TrainStatistics`). Nothing else crosses windows: a window's p depends on that window and the
training split only (tests/images/tirex/test_tirexcls_embedding.py).

The head: an L2-penalised logistic regression on the embeddings (jobs.common.probe.linear_probe:
standardised with training statistics, strength chosen on validation log loss, the test split
embedded only after the choice). Why not the package's `TirexLinearClassifier`: it trains the same
linear softmax head with AdamW for a fixed number of epochs (its regularisation is weight decay and
early stopping), so its result depends on the optimiser's path, and its constructor loads NX-AI/TiRex
from the hub. The logistic head reaches the penalised optimum exactly; since the embedding has more
features (25 x blocks x width) than there are training windows, it is solved in the span of the
training rows (`fit_wide_logistic`), the same optimum as the primal.

H1 and H3 alike: the label (max of High over t+1..t+H against (1 + threshold) Close_t, a binary event
also for H3) is the classifier's target, so p for H3 is the path event's probability directly, not
derived from marginals. The model forecasts nothing here, so there is no point score (the column is
null) and nothing is fine-tuned: only the head is fitted, on training windows.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.covariates import CovariateSplit, spec_windows
from jobs.common.dataset import Dataset
from jobs.common.logistic import fit_wide_logistic
from jobs.common.probe import linear_probe, require_both_classes
from jobs.common.settings import SpecSettings
from jobs.common.torch_setup import start_torch
from jobs.tirex.tirexcls_weights import load, resolve_weights
from shared_schema import ExperimentSpec

PACKAGES = ("torch", "tirex-ts", "scikit-learn")
STAT_EPS = 1e-8  # the package's guard against a zero spread (TiRexEmbedding._normalize_stats)


@dataclass(frozen=True)
class Settings(SpecSettings):
    data_augmentation: bool
    max_train_windows: int
    probe_l2: tuple[float, ...]
    predict_batch_size: int


def variates(part: CovariateSplit) -> np.ndarray:
    """(n, 25, L) float32: the target series first, then the 24 other features."""
    stacked = np.concatenate([part.target[:, None, :], part.covariates.transpose(0, 2, 1)], axis=1)
    return np.ascontiguousarray(stacked, dtype=np.float32)


def package_embedding(model, *, data_augmentation: bool, batch_size: int):
    """The package's TiRexEmbedding around an already loaded TiRex: its own __init__ loads
    NX-AI/TiRex from the hub, so this sets the attributes that __init__ sets (tirex-ts 1.4.2) and
    keeps every method of the package."""
    import torch
    from tirex.models.embedding import TiRexEmbedding

    class LoadedTiRexEmbedding(TiRexEmbedding):
        def __init__(self) -> None:
            torch.nn.Module.__init__(self)
            self.data_augmentation = data_augmentation
            self.number_of_patches = 8
            self.batch_size = batch_size
            self.device = str(next(model.parameters()).device)
            self._compile = False
            self.model = model

    return LoadedTiRexEmbedding().eval()


@dataclass(frozen=True)
class Embedded:
    """One split's per-window features: the model's embedding, and (augmentation) the raw statistics."""

    embedding: np.ndarray
    statistics: np.ndarray | None


class Embedder:
    """The frozen model applied to windows, one window's features independent of every other's."""

    def __init__(self, module):
        self.module = module

    def __call__(self, x: np.ndarray) -> Embedded:
        import torch

        data = torch.from_numpy(x)
        module = self.module
        with torch.inference_mode():
            embedding = module.process_embedding(module._embed_per_variate(data))
            statistics = None
            if module.data_augmentation:  # the package's order: differences, then the series, then statistics
                diff = torch.diff(data, dim=-1, prepend=data[..., :0])
                embedding = torch.cat((module.process_embedding(module._embed_per_variate(diff)), embedding), dim=-1)
                statistics = module._generate_stats_features(data).cpu().double().numpy()
        return Embedded(embedding.cpu().double().numpy(), statistics)


@dataclass(frozen=True)
class TrainStatistics:
    """The package's two-step standardisation of the patch statistics (TiRexEmbedding._normalize_stats),
    its first step (per statistic, across windows) fitted on training windows only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray) -> "TrainStatistics":
        return cls(np.nanmean(train, axis=0), np.nanstd(train, axis=0))

    def apply(self, statistics: np.ndarray) -> np.ndarray:
        scaled = np.nan_to_num((statistics - self.mean) / (self.std + STAT_EPS), nan=0.0)
        # the second step is per window: across its own statistics (torch's std: ddof 1)
        return (scaled - scaled.mean(axis=-1, keepdims=True)) / (scaled.std(axis=-1, ddof=1, keepdims=True) + STAT_EPS)


def features(embedded: Embedded, scaler: TrainStatistics | None) -> np.ndarray:
    if embedded.statistics is None:
        return embedded.embedding
    return np.concatenate([embedded.embedding, scaler.apply(embedded.statistics)], axis=-1)


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir)  # fails fast, before torch loads anything
    device = start_torch(spec)
    windows = spec_windows(dataset, spec)
    train = windows.train.recent(settings.max_train_windows)
    require_both_classes(train.y, "the classifier head")
    model = load(resolved, device.type)
    embed = Embedder(
        package_embedding(model, data_augmentation=settings.data_augmentation, batch_size=settings.predict_batch_size)
    )
    started = time.perf_counter()
    chosen = {"train": train, "val": windows.val, "test": windows.test}
    embedded = {"train": embed(variates(train))}
    scaler = TrainStatistics.fit(embedded["train"].statistics) if settings.data_augmentation else None

    def split_features(name: str) -> np.ndarray:
        if name not in embedded:
            embedded[name] = embed(variates(chosen[name]))
        return features(embedded[name], scaler)

    probabilities, choice = linear_probe(
        embed=split_features,
        train_y=train.y,
        val_y=windows.val.y,
        strengths=settings.probe_l2,
        fit=fit_wide_logistic,
    )
    finished = time.perf_counter()
    notes: dict = {
        "p_method": "logistic head on TiRex's frozen per-variate embeddings of the 25 features, fitted on "
        "training windows; the label itself is its target (H > 1: the path-maximum event, not marginals)",
        "head": "L2 logistic regression at its exact optimum (jobs.common.logistic.fit_wide_logistic), "
        "strength chosen on validation log loss",
        "embedding": "tirex TiRexEmbedding (mean over the window's patches of every block's hidden state, "
        "per variate)"
        + (", plus first-difference embedding and patch statistics" if settings.data_augmentation else ""),
        "statistics_normalisation": "training windows' mean and spread" if settings.data_augmentation else "none",
        "point_score": "none: the classifier forecasts no path",
        "fine_tuning": "none: the TiRex backbone is frozen",
        "probe_l2": choice.l2,
        "probe_val_log_loss": choice.val_log_loss,
        "probe_features": int(choice.weights.size),
    }
    n_parameters = sum(p.numel() for p in model.parameters()) + int(choice.weights.size) + 1
    return ModelOutput(
        val=SplitPredictions(windows.val.dates, windows.val.y, probabilities["val"]),
        test=SplitPredictions(windows.test.dates, windows.test.y, probabilities["test"]),
        n_parameters=n_parameters,
        n_train=len(train.y),
        weights=resolved.source,
        train_seconds=0.0,
        predict_seconds=finished - started,
        device=device.type,
        packages=PACKAGES,
        notes=notes,
        inputs=windows.inputs("variates"),
    )
