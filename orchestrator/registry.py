"""The experiment matrix as data: the one source of truth for ids, slugs, models and resources.

Whether an experiment can run is not declared here: it is derived from whether its model has a
job entry point (`jobs.registry.ENTRYPOINTS`), so the list never hides what is still missing.
Models of the plan that cannot be run at all carry an `Unavailable` status and its one-line reason,
so they are listed (orch list, the report's coverage table) instead of silently dropped.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from jobs.registry import ENTRYPOINTS
from jobs.torch_models.profiles import FULL_HYPERPARAMETERS as TORCH_FULL
from jobs.torch_models.profiles import QUICK_HYPERPARAMETERS as TORCH_QUICK
from jobs.timer.profiles import FULL as TIMER_FULL
from jobs.timer.profiles import QUICK as TIMER_QUICK

Profile = Literal["quick", "full"]
GpuNeed = Literal["none", "optional", "required"]
HORIZONS = (1, 3)
CONTEXT_LENGTH = 80
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Resources:
    cpus: int = 1
    memory_gb: float = 2.0
    gpu: GpuNeed = "none"
    gpu_memory_gb: float = 0.0  # declared device-memory peak (full profile), until a run has measured it
    timeout_s: dict[str, int] = field(default_factory=lambda: {"quick": 900, "full": 6 * 3600})
    estimate: dict[str, str] = field(default_factory=dict)  # profile -> expected run time, shown by `orch plan`


@dataclass(frozen=True)
class Unavailable:
    """Why a model of the plan has no job and never will here: status is what `orch list` shows."""

    status: Literal["not applicable", "no public weights"]
    reason: str


@dataclass(frozen=True)
class Experiment:
    id: str
    slug: str
    model: str
    env: str
    horizon: int
    family: str
    hyperparameters: dict[str, dict]  # profile -> hyper-parameters
    resources: Resources
    context_length: int = CONTEXT_LENGTH
    weights: str | None = None  # name in orchestrator.weights.PUBLISHED when pretrained weights are needed
    unavailable: Unavailable | None = None
    note: str | None = None  # shown beside the status in `orch list` (e.g. what the quick profile runs)

    @property
    def implemented(self) -> bool:
        return self.unavailable is None and self.model in ENTRYPOINTS

    def params(self, profile: Profile) -> dict:
        return dict(self.hyperparameters.get(profile, {}))


@dataclass(frozen=True)
class ModelEntry:
    """One model of the study; the registry expands it over both horizons."""

    model: str
    slug_stem: str
    env: str
    family: str
    quick: dict
    full: dict
    resources: Resources = Resources()
    weights: str | None = None
    unavailable: Unavailable | None = None
    note: str | None = None


SKLEARN = Resources(cpus=1, memory_gb=1.0)
TORCH = Resources(cpus=2, memory_gb=4.0, gpu="optional", gpu_memory_gb=3.0)
FOUNDATION = Resources(cpus=2, memory_gb=8.0, gpu="optional", gpu_memory_gb=16.0)
# 200M parameters (d_model 1664, 6 layers). Full profile: ~3,900 training windows x up to 30
# epochs at a measured 0.05 training windows/s on a 2-core CPU (benchmarks/bench_torch.py
# --models patchtst-200m --size 200000000) = 10-30 days; about 3e11 FLOP per window, so 1-3 hours
# on one H100-class GPU (an estimate, never measured here). The quick profile runs a CPU-sized stand-in.
LARGE_TORCH = Resources(
    cpus=2, memory_gb=24.0, gpu="required", gpu_memory_gb=40.0, timeout_s={"quick": 900, "full": 48 * 3600},
    estimate={"quick": "~1 min (100k-parameter stand-in)",
              "full": "needs a GPU: ~1-3 h on one H100-class GPU (estimated); 10-30 days on a 2-core CPU"},
)

def _torch(model: str, stem: str, family: str) -> ModelEntry:
    """Torch defaults live beside the models (pure data, no torch import); the spec spells them out."""
    return ModelEntry(model, stem, "torch", family, TORCH_QUICK[model], TORCH_FULL[model], TORCH)


FOUNDATION_MODELS = [
    ModelEntry("lagllama", "lagllama", "gluonts", "foundation",
               {"mode": "fine-tune", "num_samples": 100, "max_epochs": 1}, {"mode": "fine-tune", "num_samples": 2500}, FOUNDATION,
               weights="lag-llama"),
    ModelEntry("timesfm", "timesfm", "timesfm", "foundation",
               {"mode": "fine-tune", "max_steps": 10}, {"mode": "fine-tune"}, FOUNDATION, weights="timesfm"),
]
# After the seven architectures, so FD-01..18 keep their numbers: Timer FD-19/20, ARMA-Attention
# FD-21/22, then the plan's Tier 3 rows that cannot run (FD-23..26), listed with their reason.
LATER_MODELS = [
    ModelEntry("timer", "timer", "torch", "foundation", TIMER_QUICK, TIMER_FULL, FOUNDATION, weights="timer"),
    _torch("armattn", "armattn", "transformer"),
    ModelEntry("marketgpt", "marketgpt", "torch", "foundation", {}, {}, FOUNDATION, unavailable=Unavailable(
        "not applicable", "MarketGPT (arXiv 2411.16585) generates NASDAQ ITCH order-book messages, not daily OHLCV bars")),
    ModelEntry("lens", "lens", "torch", "foundation", {}, {}, FOUNDATION, unavailable=Unavailable(
        "no public weights", "LENS (arXiv 2408.10111) published no checkpoint to load; pre-training it (100B observations) is out of scope")),
]
FROM_SCRATCH_MODELS = [
    _torch("itransformer", "itransformer", "transformer"),
    _torch("timemixer", "timemixer", "no-attention"),
    _torch("informer", "informer", "transformer"),
    _torch("autoformer", "autoformer", "transformer"),
    _torch("fedformer", "fedformer", "transformer"),
    _torch("etsformer", "etsformer", "transformer"),
    _torch("crossformer", "crossformer", "transformer"),
]
BASELINE_MODELS = [
    _torch("patchtst", "patchtst", "transformer"),
    ModelEntry("logreg", "logreg", "sklearn", "classical", {}, {}, SKLEARN),
    ModelEntry("logreg-vol", "logregvol", "sklearn", "classical", {}, {}, SKLEARN),
    ModelEntry("gboost", "gboost", "sklearn", "classical", {"max_iter": 200}, {"max_iter": 400}, SKLEARN),
    dataclasses.replace(_torch("patchtst-200m", "patchtst-200m", "transformer"), resources=LARGE_TORCH,
                        note=f"quick profile: a {TORCH_QUICK['patchtst-200m']['size']:,}-parameter CPU stand-in, not 200M"),
]
CONTROL_MODELS = [
    _torch("patchtst-causal", "patchtst-causal", "transformer"),
    _torch("dlinear", "dlinear", "no-attention"),
    # H1's same-input control: PatchTST on log High alone, the input the foundation models forecast from.
    _torch("patchtst-high", "patchtst-high", "transformer"),
]


def _expand(prefix: str, first_number: int, entries: list[ModelEntry]) -> list[Experiment]:
    experiments = []
    number = first_number
    for entry in entries:
        for horizon in HORIZONS:
            experiments.append(
                Experiment(
                    id=f"{prefix}-{number:02d}",
                    slug=f"{entry.slug_stem}-h{horizon}",
                    model=entry.model,
                    env=entry.env,
                    horizon=horizon,
                    family=entry.family,
                    hyperparameters={"quick": entry.quick, "full": entry.full},
                    resources=entry.resources,
                    weights=entry.weights,
                    unavailable=entry.unavailable,
                    note=entry.note,
                )
            )
            number += 1
    return experiments


# FD-01..FD-18 follow the design's numbering: Lag-Llama, TimesFM, then the seven architectures,
# each H1 then H3. BL are the baselines every result is compared with; CT the controls.
EXPERIMENTS: list[Experiment] = (
    _expand("FD", 1, FOUNDATION_MODELS + FROM_SCRATCH_MODELS + LATER_MODELS)
    + _expand("BL", 1, BASELINE_MODELS)
    + _expand("CT", 1, CONTROL_MODELS)
)
BY_ID = {e.id: e for e in EXPERIMENTS}
BY_SLUG = {e.slug: e for e in EXPERIMENTS}
