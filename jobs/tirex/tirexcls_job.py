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

The package pads each 80-day series with NaN to the model's training context (2048 days at the guessed
published shape: 61 padded patches before 3 real ones) and runs the recurrence over all of them, per series.
`padding_prefix = "shared"` (quick) runs the padded patches, the same token for every series, once and
starts every series' real patches from the state they leave (SharedPaddingPrefix): the same function up to
the rounding of the package's bfloat16 sLSTM state, ~12x less work; "per-series" (full) is the package's call.
`slstm_products = "float32"` (quick) forms the recurrence's bfloat16 products in float32, rounded back to
bfloat16 (slstm_forward_float32_products): ~3x faster on a CPU, the same values up to summation order.

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
PADDING_PREFIX = ("per-series", "shared")
STAT_EPS = 1e-8  # the package's guard against a zero spread (TiRexEmbedding._normalize_stats)


@dataclass(frozen=True)
class Settings(SpecSettings):
    data_augmentation: bool
    padding_prefix: str
    slstm_products: str
    max_train_windows: int
    probe_l2: tuple[float, ...]
    predict_batch_size: int


def variates(part: CovariateSplit) -> np.ndarray:
    """(n, 25, L) float32: the target series first, then the 24 other features."""
    stacked = np.concatenate([part.target[:, None, :], part.covariates.transpose(0, 2, 1)], axis=1)
    return np.ascontiguousarray(stacked, dtype=np.float32)


class SharedPaddingPrefix:
    """`model._embed_context` with the recurrence over the context's left padding run once, not per series.

    The package left-pads every context with NaN to the model's training context (`train_ctx_len`,
    e.g. 2048 days for an 80-day window: 61 of 64 patches), runs every block's sLSTM over all of them,
    and keeps the hidden states of the real patches only. A patch of nothing but padding is the same
    token for every series (NaN -> the mask value, mask 0), so the blocks' states after those patches
    are one constant: computed once here (per padding length) and used as the initial sLSTM state of
    every series' real patches. The same function as the package's (float rounding aside: the package's
    torch sLSTM keeps its state in bfloat16); the job's `padding_prefix = "shared"`."""

    def __init__(self, model):
        self.model = model
        self.config = model.config  # TiRexEmbedding reads the patch size from here
        self._states: dict[int, list] = {}  # padded patches -> each block's sLSTM state after them

    def _embed_context(self, context, max_context: int | None = None):
        """(batch, real patches, blocks, width): what `model._embed_context(context)` returns."""
        import torch

        model = self.model
        tokens, padded = model._prepare_context_for_embedding(context, max_context)
        if padded == 0:
            return model._embed_context(context, max_context)
        # the first `padded` patches are padding only, in every row: NaN -> the mask value 0, mask 0
        states = self._prefix_states(tokens[:1, :padded], padded)
        hidden = model.input_patch_embedding(tokens[:, padded:])
        per_block = []
        for block, state in zip(model.blocks, states, strict=True):
            hidden, _ = block_with_state(block, hidden, state.expand(-1, hidden.shape[0], -1).contiguous())
            per_block.append(hidden)
        return torch.stack(per_block, dim=-2)

    def _prefix_states(self, prefix, padded: int) -> list:
        if padded not in self._states:
            hidden, states = self.model.input_patch_embedding(prefix), []
            for block in self.model.blocks:
                hidden, state = block_with_state(block, hidden, None)
                states.append(state)
            self._states[padded] = states
        return self._states[padded]


def block_with_state(block, x, state):
    """The package's sLSTMBlock.forward (tirex-ts 1.4.2: sLSTMLayer.forward inlined) from a given sLSTM
    state, also returning the state after the last patch (the package's block starts from zeros and
    drops it)."""
    import torch

    layer = block.slstm_layer
    normed = block.norm_slstm(x)
    gates = torch.cat((layer.fgate(normed), layer.igate(normed), layer.zgate(normed), layer.ogate(normed)), dim=-1)
    y, state = layer.slstm_cell(gates, state=state)
    x = x + layer.group_norm(y).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
    return x + block.ffn(block.norm_ffn(x)), state


def slstm_forward_float32_products(x, states, R, b):
    """The package's torch sLSTM recurrence (tirex-ts 1.4.2 `sLSTMCellTorch.slstm_forward`) with its recurrent
    product state @ R, bfloat16 operands, formed in float32 and rounded to bfloat16 as the package's result is:
    products of bfloat16 values are exact in float32, so only the summation order differs. Why: on a CPU
    without bfloat16 matrix units torch runs that batched product at ~6 GFLOP/s, ~60% of the embedding's time
    at the guessed published shape. The job's `slstm_products = "float32"`."""
    import torch
    from tirex.models.slstm.cell import sLSTMCellTorch

    num_heads, head_dim = R.shape[0], R.shape[1]
    steps, batch, _ = x.shape
    wide_r = R.float()  # (heads, head_dim, gates * head_dim)
    states = states.to(R.dtype).unbind(dim=0)
    output = []
    for step in range(steps):
        by_head = states[0].float().reshape(batch, num_heads, head_dim).transpose(0, 1)  # (heads, batch, head_dim)
        products = torch.bmm(by_head, wide_r).transpose(0, 1).to(R.dtype)  # (batch, heads, gates * head_dim)
        ry = products.reshape(batch, num_heads, 4, head_dim).transpose(1, 2).reshape(batch, -1)
        states = sLSTMCellTorch.slstm_forward_pointwise(
            x[step].float(), ry.float(), b.float(), [s.float() for s in states]
        )
        states = [s.to(dtype=R.dtype) for s in states]
        output.append(states[0])
    return torch.stack(output), torch.stack(states)


def use_float32_products(model) -> int:
    """Every sLSTM cell's torch recurrence switched to slstm_forward_float32_products (the cell keeps the
    package's recurrence in an attribute); returns how many cells."""
    from tirex.models.slstm.cell import sLSTMCell

    cells = [module for module in model.modules() if isinstance(module, sLSTMCell)]
    for cell in cells:
        cell._impl_forward_torch = slstm_forward_float32_products
    return len(cells)


def package_embedding(model, *, data_augmentation: bool, batch_size: int, padding_prefix: str = "per-series"):
    """The package's TiRexEmbedding around an already loaded TiRex: its own __init__ loads
    NX-AI/TiRex from the hub, so this sets the attributes that __init__ sets (tirex-ts 1.4.2) and
    keeps every method of the package. `padding_prefix`: "per-series" (the package's own context
    embedding) or "shared" (SharedPaddingPrefix: the padding's recurrence run once)."""
    import torch
    from tirex.models.embedding import TiRexEmbedding

    if padding_prefix not in PADDING_PREFIX:
        raise ValueError(f"padding_prefix must be one of {PADDING_PREFIX}, not {padding_prefix!r}")

    class LoadedTiRexEmbedding(TiRexEmbedding):
        def __init__(self) -> None:
            torch.nn.Module.__init__(self)
            self.data_augmentation = data_augmentation
            self.number_of_patches = 8
            self.batch_size = batch_size
            self.device = str(next(model.parameters()).device)
            self._compile = False
            self.model = model if padding_prefix == "per-series" else SharedPaddingPrefix(model)

    return LoadedTiRexEmbedding().eval()


@dataclass(frozen=True)
class Embedded:
    """One split's per-window features: the model's embedding (float32, as computed: 25 x blocks x width
    values a window, ~150k at the published size, so float64 would double the job's largest arrays), and
    (augmentation) the raw patch statistics (float64, 800 a window)."""

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
        # no_grad, not inference_mode: the package's own call (its `_embed_context` is inference-mode already)
        with torch.no_grad():
            embedding = module.process_embedding(module._embed_per_variate(data))
            statistics = None
            if module.data_augmentation:  # the package's order: differences, then the series, then statistics
                diff = torch.diff(data, dim=-1, prepend=data[..., :0])
                embedding = torch.cat((module.process_embedding(module._embed_per_variate(diff)), embedding), dim=-1)
                statistics = module._generate_stats_features(data).cpu().double().numpy()
        return Embedded(embedding.cpu().numpy(), statistics)  # float32, as the model computes it


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
    """(n, features) float32: the embedding, then (augmentation) the standardised statistics."""
    if embedded.statistics is None:
        return embedded.embedding
    statistics = scaler.apply(embedded.statistics).astype(embedded.embedding.dtype)
    return np.concatenate([embedded.embedding, statistics], axis=-1)


def run(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    settings = Settings.from_spec(spec)
    resolved = resolve_weights(weights_dir)  # fails fast, before torch loads anything
    device = start_torch(spec)
    windows = spec_windows(dataset, spec)
    train = windows.train.recent(settings.max_train_windows)
    require_both_classes(train.y, "the classifier head")
    model = load(resolved, device.type)
    if settings.slstm_products == "float32":
        use_float32_products(model)
    embed = Embedder(
        package_embedding(
            model,
            data_augmentation=settings.data_augmentation,
            batch_size=settings.predict_batch_size,
            padding_prefix=settings.padding_prefix,
        )
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
