"""The model catalog: every model of the study as one entry, the only place a model is declared.

An entry (`Model`, keyword arguments only) holds the model's experiment ids (written out, never derived
from a position), how it is classified, the environment and job entry points that run it, its resources
and pretrained weights, and its hyper-parameters declared once: type and bounds
(`jobs.common.hyperparameters.Param`) and the value each profile's spec spells out. Everything else is
derived from it: the job table (jobs/registry.py), `Model.resolve` (the values every job runs with),
the `--set` checks, the host registry (orchestrator/registry.py), the report's plan families,
`orch list`, compose services and the README's model list.

How a model is classified (three words, each with one job):
- id prefix: where the analysis plan lists the model. FD = the study's models (design numbering:
  Lag-Llama, TimesFM, the seven architectures, then Timer, ARMA-Attention and rows that cannot run),
  BL = the baselines every result is compared with, CT = controls. Ids are hashed into run keys, so
  they never move; a new model takes the next free number of its prefix.
- family: what the model *is*: foundation (pre-trained, forecasts a series), transformer
  (attention, trained from scratch), no-attention (trained from scratch without attention),
  classical (scikit-learn; deterministic, so the report asks it for no seeds).
- role: what the analysis plan *does* with it. It is the family, except a classical model's role is
  "baseline" and a model compared only as a named control has role "control" (H1's same-input
  PatchTST). The deep roles (DEEP_ROLES) are the plan's families. The causal PatchTST and DLinear sit
  under CT ids with the roles of their families, as the plan always had them.

Adding a model: one `Model(...)` entry in MODELS (for a jobs/torch_models architecture,
`torch_model(...)`, which fills in the shared training settings), with its job written; README
"Adding a model" lists the steps. `check_catalog` refuses an entry that breaks an identity or the plan.

Standard library only (the host imports it without any ML stack): data, plus the few helpers that
build and check it; the code that acts on it lives in hashed job modules. The file itself is not
part of any run key's code hash; each run key hashes its own model's `job_identity()` instead, so
adding or editing one entry re-keys that model and no other (a profile's values are spelled into the
spec as well). `tests/jobs/test_catalog.py` loads a modified copy of this file to show exactly that.
"""

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from jobs.common.hyperparameters import (
    BATCH,
    BIG,
    LENGTH,
    STEPS,
    Param,
    check_declared,
    choice,
    flag,
    real,
    whole,
)

HORIZONS = (1, 3)
Family = Literal["foundation", "transformer", "no-attention", "classical"]
Role = Literal["foundation", "transformer", "no-attention", "baseline", "control"]
DEEP_ROLES = ("foundation", "transformer", "no-attention")
GpuNeed = Literal["none", "optional", "required"]
PROFILES = ("quick", "full")


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
class Pretraining:
    """What a foundation model's published weights were pre-trained on, and until when. A test period
    that starts on or before `cutoff` may have been seen in pre-training (flag `pretraining-overlap`)."""

    corpora: tuple[str, ...]
    cutoff: dt.date
    cutoff_published: bool  # False: no cut-off was published; `cutoff` is the release date, the latest it can be
    source: str  # where the facts above are published
    note: str = ""


@dataclass(frozen=True)
class TorchArchitecture:
    """Where a jobs/torch_models architecture lives: jobs/torch_models/zoo.py imports it from here."""

    module: str
    model_class: str
    config_class: str
    fixed: Mapping[str, object] = field(default_factory=dict)  # config settings that make it a variant of another


class SpecValues(Protocol):
    """What `Model.resolve` reads of a spec: a shared_schema.ExperimentSpec, or the host's draft of one
    (orchestrator/overrides.py checks `--set` before any spec exists)."""

    profile: str
    hyperparameters: Mapping[str, object]


@dataclass(frozen=True, kw_only=True)
class Model:
    name: str  # the spec's `model`
    ids: tuple[str, ...]  # one experiment id per horizon in HORIZONS, written out: ids are hashed into run keys
    slug_stem: str  # experiment slugs are <slug_stem>-h<H>; compose service names too
    family: Family  # what the model is (module docstring)
    role: Role  # what the analysis plan does with it (module docstring)
    env: str
    entry: str | None  # "module:function" taking (spec, dataset, weights_dir); None while no job exists
    # "module:function" taking (specs, dataset, weights_dir) for several seeds of one experiment, yielding one
    # ModelOutput per spec in order (the same results as separate runs); None: each seed runs in its own process.
    group_entry: str | None = None
    hyperparameters: Mapping[str, Param] = field(default_factory=dict)  # every key a spec may set
    quick: Mapping[str, object] = field(default_factory=dict)  # what a quick-profile spec spells out
    full: Mapping[str, object] = field(default_factory=dict)
    # profile -> the values a job uses for the keys its spec leaves out. Why not spell every key out: the
    # foundation models' and sklearn baselines' specs have always spelled out only the keys a user varies
    # (mode, samples, steps, iterations), and the jobs kept the rest; the torch models' specs predate a few
    # keys (cpu_kernels). Spelling those out now would change these specs and so re-key every cached
    # result of theirs (tests/fixtures/run_key_matrix.json holds the specs fixed). They still reach the
    # run key: job_identity() hashes them. A new model spells out every key and leaves this empty.
    unspelled: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    resources: Resources = Resources()
    weights: str | None = None  # name in orchestrator.weights.PUBLISHED when pretrained weights are needed
    pretraining: Pretraining | None = None
    unavailable: Unavailable | None = None
    note: str | None = None  # shown beside the status in `orch list`
    architecture: TorchArchitecture | None = None  # torch architectures only
    # The terms of the model's code or weights where they restrict use (attribution, commercial limits),
    # one line shown by `orch list` and the README's model list; None where the licence is permissive
    # (Apache-2.0, MIT), so that a listed licence always means "read this before using the results".
    licence: str | None = None

    def defaults(self, profile: str) -> dict[str, object]:
        """What a `profile` spec spells out (hashed into its run key)."""
        return dict(self.quick if profile == "quick" else self.full)

    def job_defaults(self, profile: str) -> dict[str, object]:
        """Every value a job starts from before the spec's own hyperparameters: the spelled-out
        defaults and the `unspelled` ones."""
        return {**self.unspelled.get(profile, {}), **self.defaults(profile)}

    def check(self, values: Mapping[str, object]) -> dict[str, object]:
        """`values` with every key declared for this model and every value in its canonical type and
        bounds, else HyperparameterError (one line)."""
        return check_declared(self.name, self.hyperparameters, values)

    def resolve(self, spec: SpecValues) -> dict[str, object]:
        """Every hyper-parameter a job of `spec` runs with: the profile's defaults (spelled and
        unspelled), then the spec's own values, all checked. The one resolution: every job and the
        host's `--set` check call it."""
        return self.check(self.job_defaults(spec.profile) | dict(spec.hyperparameters))

    def job_identity(self) -> str:
        """Canonical JSON of what a job reads from its entry (env, entry point, declared hyper-parameters
        and defaults): hashed into the run key in place of this file, so other entries never re-key it."""
        declared = {key: vars(param) for key, param in self.hyperparameters.items()}
        architecture = None if self.architecture is None else vars(self.architecture)
        return json.dumps(
            {
                "model": self.name,
                "env": self.env,
                "entry": self.entry,
                "hyperparameters": declared,
                "quick": self.quick,
                "full": self.full,
                "unspelled": self.unspelled,
                "architecture": architecture,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


# -- resources -----------------------------------------------------------------------------------
SKLEARN = Resources(cpus=1, memory_gb=1.0)
TORCH = Resources(cpus=2, memory_gb=4.0, gpu="optional", gpu_memory_gb=3.0)
FOUNDATION = Resources(cpus=2, memory_gb=8.0, gpu="optional", gpu_memory_gb=16.0)
# 200M parameters (d_model 1664, 6 layers). Full profile: ~3,900 training windows x up to 30
# epochs at a measured 0.05 training windows/s on a 2-core CPU (benchmarks/bench_torch.py
# --models patchtst-200m --size 200000000) = 10-30 days; about 3e11 FLOP per window, so 1-3 hours
# on one H100-class GPU (an estimate, never measured here). The quick profile runs a CPU-sized stand-in.
LARGE_TORCH = Resources(
    cpus=2,
    memory_gb=24.0,
    gpu="required",
    gpu_memory_gb=40.0,
    timeout_s={"quick": 900, "full": 48 * 3600},
    estimate={
        "quick": "~1 min (100k-parameter stand-in)",
        "full": "needs a GPU: ~1-3 h on one H100-class GPU (estimated); 10-30 days on a 2-core CPU",
    },
)

# -- shared hyper-parameter declarations -----------------------------------------------------------
POSITIVE = real(above=0)
DROPOUT = real(low=0, below=1)
POOL = choice("mean", "last")  # torch_models.layers.Pool

# Torch models: training settings (trainer.TrainSettings) and data settings (job.Plan).
TORCH_TRAINING = {
    "size": whole(1_000, BIG),  # target parameter count; width and depth are computed to land within 10%
    "max_train_windows": whole(0, BIG),  # 0 = every training window; N = the N most recent ones
    "inputs": choice("all", "high"),  # job.INPUT_SETS: every feature, or H1's same-input control (High only)
    "epochs": whole(1, 100_000),  # an upper bound: early stopping on validation AUC usually ends sooner
    "patience": whole(1, 100_000),  # epochs without a better validation AUC before stopping
    "batch_size": whole(1, BATCH),
    "eval_batch_size": whole(1, BATCH),  # prediction only; does not change results
    "lr": real(above=0, high=10),  # AdamW peak learning rate, reached after warm-up, then cosine-decayed to 0
    "warmup_fraction": real(low=0, below=1),  # share of all optimiser steps spent warming up linearly
    "weight_decay": real(low=0, high=10),  # on weight matrices and embeddings, not on biases and norms
    "grad_clip": POSITIVE,  # maximum global gradient norm
    "compile": flag(),  # torch.compile for training; measured by `orch bench study`, off where it does not pay
    "precision": choice(
        "auto", "bf16", "fp32"
    ),  # bf16 autocast on CUDA, fp32 on CPU/MPS; "bf16" also on CPU (faster, results move)
    "cpu_kernels": choice("fast", "textbook"),  # jobs/torch_models/kernels.py's switch (CPU only)
}
# Keys declared after the torch models' specs were fixed: unspelled, so those specs stay as they were.
TORCH_UNSPELLED: dict[str, object] = {"cpu_kernels": "fast"}
# The full profile: the published reference is PatchTST at 2M parameters.
TORCH_FULL: dict[str, object] = {
    "size": 2_000_000,
    "epochs": 30,
    "patience": 5,
    "batch_size": 64,
    "eval_batch_size": 256,
    "lr": 3e-4,
    "warmup_fraction": 0.05,
    "weight_decay": 0.05,
    "grad_clip": 1.0,
    "dropout": 0.1,
    "max_train_windows": 0,
    "compile": False,
    "precision": "auto",
}
# About 15-40 s per job on a 2-core CPU: small models, few epochs, recent windows only. Dropout
# is off: four epochs are too short to overfit, and its random masks cost ~30% of a CPU step.
TORCH_QUICK: dict[str, object] = {
    **TORCH_FULL,
    "size": 100_000,
    "epochs": 4,
    "patience": 2,
    "lr": 1e-3,
    "dropout": 0.0,
    "max_train_windows": 1_500,
}
# Each architecture's tunable config fields (zoo.Architecture.tunable()); their defaults are the config
# classes' (the spec does not spell them out). `dropout` is in every one and in TORCH_FULL.
PATCHTST = {
    "patch_len": whole(1, LENGTH),
    "stride": whole(1, LENGTH),
    "dropout": DROPOUT,
    "causal": flag(),
    "pool": POOL,
}
PATCHTST_CAUSAL = {
    "patch_len": whole(1, LENGTH),
    "stride": whole(1, LENGTH),
    "dropout": DROPOUT,
}  # causal and pool fixed

LOGREG = {"C": real(above=0, high=1e12), "max_iter": whole(1, STEPS)}
GBOOST = {
    "max_iter": whole(1, STEPS),
    "learning_rate": real(above=0, high=10),
    "max_depth": whole(1, 1024),
    "min_samples_leaf": whole(1, BIG),
    "l2_regularization": real(low=0, high=1e12),
}
# lagllama/job.py + lagllama/finetune.FineTuneSettings hold the defaults of keys a spec leaves out.
LAGLLAMA = {
    "mode": choice("zero-shot", "fine-tune"),
    "num_samples": whole(1, 100_000),  # even for H > 1 (antithetic pairs): checked by the job, which knows H
    "history_padding": choice("first-value", "zero"),  # lagllama.data.PADDINGS
    "rescale_each_step": flag(),
    "series": choice("high", "log-high"),  # lagllama.data.SERIES
    "model_context_length": whole(1, LENGTH),
    "use_kv_cache": flag(),
    "predict_batch_size": whole(1, BATCH),
    "lr": real(above=0, high=10),
    "weight_decay": real(low=0, high=10),
    "batch_size": whole(1, BATCH),
    "max_epochs": whole(1, 100_000),
    "batches_per_epoch": whole(1, STEPS),
    "patience": whole(1, 100_000),
    "max_val_windows": whole(1, BIG),
    "grad_clip": POSITIVE,
}
# TimesFM and Timer share their fine-tuning loop's settings and the linear probe's.
FORECASTER_TUNING = {
    "mode": choice("zero-shot", "fine-tune", "linear-probe"),
    "max_steps": whole(0, STEPS),
    "batch_size": whole(1, BATCH),
    "lr": real(above=0, high=10),
    "eval_every": whole(1, STEPS),
    "patience": whole(1, 100_000),
    "max_train_windows": whole(0, BIG),
    "probe_l2": Param("floats", above=0, high=1e12),
    "predict_batch_size": whole(1, BATCH),
}
TIMESFM = {
    **FORECASTER_TUNING,
    "max_val_loss_windows": whole(0, BIG),
    "finetune_params": choice("all", "heads"),
    "dependence": choice("brownian", "comonotone", "independent"),  # timesfm.probability.DEPENDENCE
    "flip_invariance": flag(nullable=True),  # None: the package's default for the mode
    "probe_steps": whole(1, STEPS),
}
# Timer (jobs/timer/job.py): every key is spelled out in the spec.
#   lookback_patches: input patches of 96 days read before t (7 = 672 days; pre-trained on up to 30)
#   fine-tune: AdamW steps on the published next-patch MSE over training segments; validation MSE
#   every `eval_every` steps, stop after `patience` evaluations without improvement, best weights restored
#   max_train_windows: most recent training samples that calibrate the point score into P(hit) and fit
#   the linear probe (0 = all); max_val_segments: validation segments for the fine-tuning loss (0 = all);
#   probe_l2: L2 strengths tried for the linear probe (best validation log loss wins)
TIMER = {**FORECASTER_TUNING, "lookback_patches": whole(1, 1024), "max_val_segments": whole(0, BIG)}
TIMER_FULL: dict[str, object] = {
    "mode": "fine-tune",
    "lookback_patches": 7,
    "max_steps": 2000,
    "batch_size": 32,
    "lr": 1e-5,
    "eval_every": 100,
    "patience": 5,
    "max_train_windows": 0,
    "max_val_segments": 0,
    "probe_l2": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "predict_batch_size": 64,
}
TIMER_QUICK: dict[str, object] = {
    **TIMER_FULL,
    "lookback_patches": 3,
    "max_steps": 20,
    "batch_size": 8,
    "eval_every": 10,
    "patience": 1,
    "max_train_windows": 512,
    "max_val_segments": 64,
    "probe_l2": [1e-2, 1.0],
}

# Chronos-2 (jobs/chronos2/job.py): every key is spelled out in the spec.
#   inputs: "all" = the target series plus the 24 other features as past covariates; "high" = the target alone
#   finetune: Chronos2Pipeline.fit's finetune_mode, full or LoRA (lr 1e-6 / 1e-5 are the package's defaults)
#   batch_size: windows per fine-tuning step (each window is 1 + 24 series for the package)
#   eval_every / patience: validation loss every N steps; stop after `patience` evaluations without improvement
#   max_train_windows / max_val_windows: most recent windows for fine-tuning and the probe / for the
#   validation loss (0 = all); probe_features: what the linear probe reads (H > 1, or mode linear-probe)
#   shared_encoder_pass: the probe's validation/test embeddings read from the forecast's own encoder pass (the
#   same hidden states when H fits one 16-step output patch; off: a second encode() per window, the textbook form)
#   predict_batch_size: windows per forward pass (results equal to ~1e-8 across sizes: group attention is masked)
#   precision: scoring's (forecasts, embeddings) float32, or bfloat16 autocast: matrix products in bfloat16 with
#   float32 accumulation (AMX on recent Intel CPUs, tensor cores on GPUs); fine-tuning keeps the package's own
CHRONOS2 = {
    "mode": choice("zero-shot", "fine-tune", "linear-probe"),
    "finetune": choice("full", "lora"),
    "inputs": choice("all", "high"),
    "max_steps": whole(1, STEPS),
    "batch_size": whole(1, BATCH),
    "lr": real(above=0, high=10),
    "eval_every": whole(1, STEPS),
    "patience": whole(1, 100_000),
    "max_train_windows": whole(0, BIG),
    "max_val_windows": whole(0, BIG),
    "probe_l2": Param("floats", above=0, high=1e12),
    "probe_features": choice("embedding", "quantiles"),
    "shared_encoder_pass": flag(),
    "precision": choice("float32", "bfloat16"),
    "predict_batch_size": whole(1, BATCH),
}
CHRONOS2_FULL: dict[str, object] = {
    "mode": "fine-tune",
    "finetune": "full",
    "inputs": "all",
    "max_steps": 1000,
    "batch_size": 16,
    "lr": 1e-6,
    "eval_every": 50,
    "patience": 5,
    "max_train_windows": 0,
    "max_val_windows": 0,
    "probe_l2": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "probe_features": "embedding",
    "shared_encoder_pass": True,
    "precision": "float32",
    "predict_batch_size": 8,  # windows per forward pass: group attention spans the whole batch (jobs/chronos2/forecast.py)
}
# Quick is a smoke profile: every validation and test window is still scored (each is 25 series for the
# model: ~40 GFLOP a window at 120M, most of the job's time, compute-bound in float32 on a CPU: ~290 GFLOP/s
# on 2 threads, the machine's large-GEMM rate). So quick scores in bfloat16 autocast (~2.7x on 2 CPU threads
# with AMX; forecasts move by ~1e-3 relative, max |dp| 6e-4 measured at 120M with random weights: quick's p is
# not full's to that precision), and cuts
# fine-tuning to what shows the loop works (2 steps of 8 windows, the validation loss on 32 after each).
CHRONOS2_QUICK: dict[str, object] = {
    **CHRONOS2_FULL,
    "max_steps": 2,
    "batch_size": 8,
    "eval_every": 1,
    "patience": 1,
    "max_train_windows": 512,
    "max_val_windows": 32,
    "probe_l2": [1e-2, 1.0],
    "precision": "bfloat16",
}

# Values of the keys a foundation model's or baseline's spec leaves out (Model.unspelled).
TIMESFM_FULL_UNSPELLED: dict[str, object] = {
    "batch_size": 32,
    "lr": 1e-4,
    "eval_every": 100,
    "patience": 5,
    "max_train_windows": 0,
    "max_val_loss_windows": 0,
    "finetune_params": "all",
    "dependence": "brownian",
    "flip_invariance": None,
    "probe_l2": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "probe_steps": 500,
    "predict_batch_size": 64,
    "max_steps": 2000,
}
TIMESFM_QUICK_UNSPELLED: dict[str, object] = {
    **{k: v for k, v in TIMESFM_FULL_UNSPELLED.items() if k != "max_steps"},  # quick specs spell max_steps
    "batch_size": 16,
    "eval_every": 5,
    "patience": 2,
    "max_train_windows": 256,
    "max_val_loss_windows": 64,
    "probe_l2": [1e-3, 1e-1, 10.0],
    "probe_steps": 200,
}
# Lag-Llama: the job's sampling settings, then the released fine-tuning recipe (lr 5e-4, batch 64,
# 50 batches per epoch; jobs/lagllama/finetune.py's FineTuneSettings).
LAGLLAMA_FULL_UNSPELLED: dict[str, object] = {
    "history_padding": "first-value",
    "rescale_each_step": False,
    "series": "high",
    "model_context_length": 32,
    "use_kv_cache": True,
    "predict_batch_size": 32,
    "lr": 5e-4,
    "weight_decay": 1e-8,
    "batch_size": 64,
    "max_epochs": 50,
    "batches_per_epoch": 50,
    "patience": 5,
    "max_val_windows": 512,
    "grad_clip": 1.0,
}
LAGLLAMA_QUICK_UNSPELLED: dict[str, object] = {
    **{k: v for k, v in LAGLLAMA_FULL_UNSPELLED.items() if k != "max_epochs"},  # quick specs spell max_epochs
    "batches_per_epoch": 4,
    "batch_size": 16,
    "max_val_windows": 32,
    "patience": 1,
}
LOGREG_UNSPELLED: dict[str, object] = {"C": 1.0, "max_iter": 2000}
GBOOST_UNSPELLED: dict[str, object] = {
    "learning_rate": 0.05,
    "max_depth": 3,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
}

# TiRex-2 (jobs/tirex/tirex2_job.py): zero-shot only (the package has no fine-tuning).
#   covariates: the 24 non-target features as past covariates (off: the target series alone)
#   pad_context: the package's default left-padding of short contexts to the model's full length
#   mlstm_kernel: the mLSTM cells' kernel from mlstm_kernels: 'chunkwise' (the package's CPU choice; it pads the
#   sequence with zeros to its 64-token chunk) or 'parallel' (the quadratic form over the unpadded sequence): the
#   same function (tests/images/tirex/test_tirex2_forecast.py: quantiles agree to 1e-5), 13x less mLSTM time
#   on the 5 patches of an unpadded 80-day context
#   max_train_windows: most recent training windows the linear probe is fitted on (0 = all); the probe
#   gives p in 'linear-probe' mode and, for H > 1, in 'zero-shot' (a path maximum; TiRex-2 does not sample)
TIREX2 = {
    "mode": choice("zero-shot", "linear-probe"),
    "covariates": flag(),
    "pad_context": flag(),
    "mlstm_kernel": choice("chunkwise", "parallel"),
    "max_train_windows": whole(0, BIG),
    "probe_l2": Param("floats", above=0, high=1e12),
    "predict_batch_size": whole(1, BATCH),
}
TIREX2_FULL: dict[str, object] = {
    "mode": "zero-shot",
    "covariates": True,
    "pad_context": True,
    "mlstm_kernel": "chunkwise",
    "max_train_windows": 0,
    "probe_l2": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "predict_batch_size": 64,
}
# Quick (smoke) skips the package's left-padding of the 80-day context with NaN to the model's full context
# length: the package documents it as optional (fewer input patches, "a small loss in forecast accuracy");
# full keeps the package default. Quick also runs the mLSTM cells in their parallel form (same function), and
# fits H3's probe on the 256 most recent training windows (as the granite and TimesFM quick profiles do): each
# is forecast as 25 series, and at 512 the H3 job took 3m07 on 2 CPU threads at the guessed 82M shape.
TIREX2_QUICK: dict[str, object] = {
    **TIREX2_FULL,
    "pad_context": False,
    "mlstm_kernel": "parallel",
    "max_train_windows": 256,
    "probe_l2": [1e-2, 1.0],
}

# PatchTST-FM r1 and TTM r2.1 (jobs/granite/): every key is spelled out in the spec.
#   fine-tune: AdamW on the model's own forecasting loss (PatchTST-FM: its quantile pre-training loss with the
#   forecast region masked; TTM: MSE), training windows only; validation loss every `eval_every` steps, stop
#   after `patience` evaluations without improvement
#   max_train_windows / max_val_windows: most recent windows for fine-tuning, the probe and TTM's calibration /
#   for the validation loss (0 = all)
GRANITE_TUNING = {
    "mode": choice("zero-shot", "fine-tune", "linear-probe"),
    "max_steps": whole(0, STEPS),
    "batch_size": whole(1, BATCH),
    "lr": real(above=0, high=10),
    "eval_every": whole(1, STEPS),
    "patience": whole(1, 100_000),
    "max_train_windows": whole(0, BIG),
    "max_val_windows": whole(0, BIG),
    "probe_l2": Param("floats", above=0, high=1e12),
    "predict_batch_size": whole(1, BATCH),
}
PATCHTSTFM_FULL: dict[str, object] = {
    "mode": "fine-tune",
    "max_steps": 1000,
    "batch_size": 32,
    "lr": 1e-5,
    "eval_every": 50,
    "patience": 5,
    "max_train_windows": 0,
    "max_val_windows": 0,
    "probe_l2": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    # series per forward pass (PatchTST-FM: one a window; TTM: windows x channels, 25 with the exogenous ones):
    # a split's ~500 target series in one call, as the package's own call on all of them (TTM at 1M parameters
    # is call-overhead bound: 64 a call ran 0.84x that call; PatchTST-FM is compute-bound, ~1.0x either way)
    "predict_batch_size": 512,
}
# Quick fine-tunes all ~260M parameters for 2 steps (a step of 8 windows with AdamW costs ~15 s on 2 CPU
# cores), the validation loss on 32 windows after each; scoring the validation and test windows is the rest.
PATCHTSTFM_QUICK: dict[str, object] = {
    **PATCHTSTFM_FULL,
    "max_steps": 2,
    "batch_size": 8,
    "eval_every": 1,
    "patience": 1,
    "max_train_windows": 256,
    "max_val_windows": 32,
    "probe_l2": [1e-2, 1.0],
}
TTM_FULL: dict[str, object] = {**PATCHTSTFM_FULL, "batch_size": 64, "lr": 1e-4}
# Quick fine-tunes with the 24 exogenous channels (25 series per window): 10 steps of 16 windows, the
# validation loss on 64, the calibration on the 256 most recent training windows.
TTM_QUICK: dict[str, object] = {
    **TTM_FULL,
    "max_steps": 10,
    "batch_size": 16,
    "eval_every": 5,
    "patience": 2,
    "max_train_windows": 256,
    "max_val_windows": 64,
    "probe_l2": [1e-2, 1.0],
}

# TiRex 1.x frozen-embedding classifier (jobs/tirex/tirexcls_job.py): every key is spelled out in the spec.
#   data_augmentation: the package's option: beside each variate's embedding, the embedding of its first
#   differences and per-patch statistics (mean, std, max, min of 8 patches), the statistics standardised
#   with the training windows' mean and spread (the package uses the embedded batch's own)
#   max_train_windows: most recent training windows the logistic head is fitted on (0 = all)
#   probe_l2: L2 strengths tried for the head (best validation log loss wins)
#   predict_batch_size: series per forward pass of the frozen model (the package's batch_size)
#   padding_prefix: the package pads each 80-day series with NaN to the model's training context and runs the
#   recurrence over every padded patch of every series ('per-series', the package's own call); the padded patches
#   are the same token for every series, so 'shared' runs them once and starts each series' real patches from
#   that state: the same function (float rounding aside: the package's sLSTM state is bfloat16;
#   tests/images/tirex/test_tirexcls_embedding.py), ~12x faster at a 2048-day training context
#   slstm_products: the package's torch sLSTM multiplies its bfloat16 state by the bfloat16 recurrent kernel
#   ('bfloat16', ~6 GFLOP/s on this CPU, 60% of the embedding); 'float32' forms the same products in float32 (exact
#   for bfloat16 values) and rounds the result to bfloat16 as the package does: only the summation order differs
TIREXCLS = {
    "data_augmentation": flag(),
    "padding_prefix": choice("per-series", "shared"),
    "slstm_products": choice("bfloat16", "float32"),
    "max_train_windows": whole(0, BIG),
    "probe_l2": Param("floats", above=0, high=1e12),
    "predict_batch_size": whole(1, BATCH),
}
TIREXCLS_FULL: dict[str, object] = {
    "data_augmentation": True,
    "padding_prefix": "per-series",
    "slstm_products": "bfloat16",
    "max_train_windows": 0,
    "probe_l2": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "predict_batch_size": 512,
}
TIREXCLS_QUICK: dict[str, object] = {
    **TIREXCLS_FULL,
    "padding_prefix": "shared",
    "slstm_products": "float32",
    "max_train_windows": 512,
    "probe_l2": [1e-2, 1.0],
}
NXAI_COMMUNITY_LICENCE = (
    "NXAI Community Licence (code and weights): 'Built with technology from NXAI' must be shown; "
    "above EUR 100M annual revenue a commercial product needs NXAI's commercial licence"
)

TORCH_JOB = "jobs.torch_models.job:fit_predict"
TORCH_SEEDS_JOB = "jobs.torch_models.multiseed:fit_predict_seeds"


def torch_model(
    *,
    name: str,
    ids: tuple[str, ...],
    family: Family,
    role: Role,
    architecture: TorchArchitecture,
    settings: Mapping[str, Param],
    full: Mapping[str, object] | None = None,
    extra: Mapping[str, object] | None = None,
    resources: Resources = TORCH,
    note: str | None = None,
) -> Model:
    """A jobs/torch_models architecture: the shared torch job (seeds grouped in one process), the
    shared training settings plus its own config fields (`settings`). `full` overrides full-profile
    defaults only; `extra` is added to both profiles."""
    return Model(
        name=name,
        ids=ids,
        slug_stem=name,
        family=family,
        role=role,
        env="torch",
        entry=TORCH_JOB,
        group_entry=TORCH_SEEDS_JOB,
        hyperparameters={**TORCH_TRAINING, **settings},
        quick={**TORCH_QUICK, **(extra or {})},
        full={**TORCH_FULL, **(full or {}), **(extra or {})},
        unspelled={"quick": TORCH_UNSPELLED, "full": TORCH_UNSPELLED},
        resources=resources,
        note=note,
        architecture=architecture,
    )


def torch_module(module: str, model_class: str, **fixed: object) -> TorchArchitecture:
    """jobs/torch_models/<module>.py's `<model_class>` and its `<model_class>Config`."""
    return TorchArchitecture(f"jobs.torch_models.{module}", model_class, f"{model_class}Config", fixed)


# -- published pre-training facts (issue 22 item 5) ----------------------------------------------------
LAGLLAMA_PRETRAINING = Pretraining(
    corpora=(
        "27 public datasets in six domains (energy, transportation, economics, nature, air quality, cloud "
        "operations), ~8K univariate series, 352M tokens, from the Monash archive and others (paper Table 5)",
    ),
    cutoff=dt.date(2024, 2, 8),
    cutoff_published=False,
    source="Rasul et al., Lag-Llama, arXiv 2310.08278 (v3 2024-02-08); huggingface.co/time-series-foundation-models/Lag-Llama",
    note="no cut-off published: the date is the paper's last revision, released with the checkpoint",
)
TIMESFM_PRETRAINING = Pretraining(
    corpora=(
        "TimesFM 1.0 corpus: Google Trends search interest, Wikipedia pageviews, synthetic series, and public "
        "benchmarks (M4, electricity, traffic, weather, LibCity, Favorita sales)",
        "from TimesFM 2.0 on, a subset of LOTSA (the Moirai pre-training archive: azure_vm_traces, residential "
        "load/PV power, q_traffic, london_smart_meters, taxi_30min, solar/wind power, kdd2022, LargeST, ERA5, "
        "BuildingsBench, CMIP6, china/beijing air quality, subseasonal, kaggle_web_traffic_weekly, "
        "cdc_fluview, godaddy)",
    ),
    cutoff=dt.date(2025, 9, 15),
    cutoff_published=False,
    source="Das et al., A decoder-only foundation model for time-series forecasting, arXiv 2310.10688 (ICML 2024); "
    "google/timesfm-2.0-500m model card, 'Pretraining Data'; github.com/google-research/timesfm README "
    "('Update - Sept. 15, 2025: TimesFM 2.5 is out')",
    note="no cut-off published, and the 2.5 card lists no corpus of its own (taken as at least 2.0's): the date is "
    "the 2.5 release, the latest its data can reach; Trends and pageviews run up to about the training date",
)
TIMER_PRETRAINING = Pretraining(
    corpora=(
        "UTSD, the Unified Time Series Dataset (Timer paper: curated public series from many domains, up to "
        "1 billion time points)",
        "LOTSA (Salesforce/lotsa_data), listed on the timer-base-84m model card (260B time points in all)",
    ),
    cutoff=dt.date(2024, 11, 23),
    cutoff_published=False,
    source="Liu et al., Timer, arXiv 2402.02368 (ICML 2024); Timer-XL arXiv 2410.04803; huggingface.co/thuml/timer-base-84m",
    note="no cut-off published: the date is the timer-base-84m repository's first commit (2024-11-23)",
)

TIREX2_PRETRAINING = Pretraining(
    corpora=(
        "not itemised by this project's research (2026-12): the TiRex-2 paper (arXiv 2607.01204) and the "
        "NX-AI/TiRex-2 model card describe it; a pre-training leakage complaint about solar data is open "
        "(NX-AI/tirex-2 issue 2)",
    ),
    cutoff=dt.date(2026, 10, 31),
    cutoff_published=False,
    source="NX-AI, TiRex-2, arXiv 2607.01204 (NeurIPS 2026); huggingface.co/NX-AI/TiRex-2; pypi.org/project/tirex-2 "
    "(0.4.0, 2026-10)",
    note="no cut-off published: the date is the end of the month tirex-2 0.4.0 was released, the latest the "
    "weights it loads can be from",
)

CHRONOS2_PRETRAINING = Pretraining(
    corpora=(
        "real univariate series (the report names the Chronos and Chronos-Bolt training corpora and "
        "GIFT-Eval's pre-training collection), given multivariate structure by synthetic 'multivariatizers'",
        "synthetic univariate and multivariate series",
    ),
    cutoff=dt.date(2025, 10, 20),
    cutoff_published=False,
    source="Ansari et al., Chronos-2: From Univariate to Universal Forecasting, arXiv 2510.15821 (2025-10-20); "
    "huggingface.co/amazon/chronos-2 (Apache-2.0 code and weights)",
    note="no cut-off published: the date is the report's release, the latest its data can reach; whether "
    "S&P 500 prices are among the real series is not stated",
)

PATCHTSTFM_PRETRAINING = Pretraining(
    corpora=(
        "not itemised by this project's research (2026-12): the ibm-granite/granite-timeseries-patchtst-fm-r1 "
        "model card describes it (pre-trained with an 8192-step context)",
    ),
    cutoff=dt.date(2026, 3, 31),
    cutoff_published=False,
    source="huggingface.co/ibm-granite/granite-timeseries-patchtst-fm-r1; github.com/ibm-granite/granite-tsfm "
    "(March 2026 release of TTM-r3, PatchTST-FM r1, FlowState r1.1 and TSPulse r1)",
    note="no cut-off published: the date is the end of the release month, the latest the data can reach",
)

TTM_PRETRAINING = Pretraining(
    corpora=(
        "not itemised by this project's research (2026-12): the ibm-granite/granite-timeseries-ttm-r2 model card "
        "and the TTM paper (Ekambaram et al., arXiv 2401.03955) describe it; GIFT-Eval lists TTM r2 with test-data "
        "leakage",
    ),
    cutoff=dt.date(2026, 10, 31),
    cutoff_published=False,
    source="huggingface.co/ibm-granite/granite-timeseries-ttm-r2 (branch 90-30-ft-r2.1); pypi.org/project/granite-tsfm "
    "(0.3.11, 2026-10, whose resources/model_paths_config/ttm.yaml lists the branch)",
    note="no cut-off published and no release date of the branch recorded here: the date is the end of the month of "
    "the granite-tsfm release that lists it, the latest the data can reach",
)

TIREX_PRETRAINING = Pretraining(
    corpora=(
        "not itemised by this project's research (2026-12): the TiRex paper and the NX-AI/TiRex model card "
        "describe it; GIFT-Eval lists TiRex among the foundation models without test-data leakage",
    ),
    cutoff=dt.date(2026, 6, 30),
    cutoff_published=False,
    source="huggingface.co/NX-AI/TiRex (model.ckpt); github.com/NX-AI/tirex @27587ff (2026-05-11); "
    "pypi.org/project/tirex-ts (1.4.2, 2026-06)",
    note="no cut-off published and no release date of the weights recorded here: the date is the end of the "
    "month of tirex-ts 1.4.2, the package that loads them, the latest the data can reach",
)

# -- the catalog (module docstring: ids, family, role) ---------------------------------------------------
MODELS: tuple[Model, ...] = (
    Model(
        name="lagllama",
        ids=("FD-01", "FD-02"),
        slug_stem="lagllama",
        family="foundation",
        role="foundation",
        env="gluonts",
        entry="jobs.lagllama.job:run",
        hyperparameters=LAGLLAMA,
        quick={"mode": "fine-tune", "num_samples": 100, "max_epochs": 1},
        full={"mode": "fine-tune", "num_samples": 2500},
        unspelled={"quick": LAGLLAMA_QUICK_UNSPELLED, "full": LAGLLAMA_FULL_UNSPELLED},
        resources=FOUNDATION,
        weights="lag-llama",
        pretraining=LAGLLAMA_PRETRAINING,
    ),
    Model(
        name="timesfm",
        ids=("FD-03", "FD-04"),
        slug_stem="timesfm",
        family="foundation",
        role="foundation",
        env="timesfm",
        entry="jobs.timesfm.job:run",
        hyperparameters=TIMESFM,
        quick={"mode": "fine-tune", "max_steps": 10},
        full={"mode": "fine-tune"},
        unspelled={"quick": TIMESFM_QUICK_UNSPELLED, "full": TIMESFM_FULL_UNSPELLED},
        resources=FOUNDATION,
        weights="timesfm",
        pretraining=TIMESFM_PRETRAINING,
    ),
    torch_model(
        name="itransformer",
        ids=("FD-05", "FD-06"),
        family="transformer",
        role="transformer",
        architecture=torch_module("itransformer", "ITransformer"),
        settings={"dropout": DROPOUT},
    ),
    torch_model(
        name="timemixer",
        ids=("FD-07", "FD-08"),
        family="no-attention",
        role="no-attention",
        architecture=torch_module("timemixer", "TimeMixer"),
        settings={
            "down_sampling_window": whole(2, LENGTH),
            "down_sampling_layers": whole(1, 32),
            "moving_avg": whole(1, LENGTH, odd=True),
            "dropout": DROPOUT,
            "pool": POOL,
        },
    ),
    torch_model(
        name="informer",
        ids=("FD-09", "FD-10"),
        family="transformer",
        role="transformer",
        architecture=torch_module("informer", "Informer"),
        settings={"factor": whole(1, LENGTH), "distil": flag(), "dropout": DROPOUT, "pool": POOL},
    ),
    torch_model(
        name="autoformer",
        ids=("FD-11", "FD-12"),
        family="transformer",
        role="transformer",
        architecture=torch_module("autoformer", "Autoformer"),
        settings={
            "moving_avg": whole(1, LENGTH, odd=True),
            "factor": real(above=0, high=LENGTH),
            "dropout": DROPOUT,
            "pool": POOL,
        },
    ),
    torch_model(
        name="fedformer",
        ids=("FD-13", "FD-14"),
        family="transformer",
        role="transformer",
        architecture=torch_module("fedformer", "FEDformer"),
        settings={
            "modes": whole(1, LENGTH),
            "moving_avg": whole(1, LENGTH, odd=True),
            "dropout": DROPOUT,
            "pool": POOL,
        },
    ),
    torch_model(
        name="etsformer",
        ids=("FD-15", "FD-16"),
        family="transformer",
        role="transformer",
        architecture=torch_module("etsformer", "ETSformer"),
        settings={"top_k": whole(1, LENGTH), "dropout": DROPOUT, "pool": POOL},
    ),
    torch_model(
        name="crossformer",
        ids=("FD-17", "FD-18"),
        family="transformer",
        role="transformer",
        architecture=torch_module("crossformer", "Crossformer"),
        settings={
            "seg_len": whole(1, LENGTH),
            "win_size": whole(2, LENGTH),
            "n_routers": whole(1, 1024),
            "dropout": DROPOUT,
            "pool": POOL,
        },
    ),
    # Runs in the torch env but not through the torch job: no group entry, so its seeds run one by one.
    Model(
        name="timer",
        ids=("FD-19", "FD-20"),
        slug_stem="timer",
        family="foundation",
        role="foundation",
        env="torch",
        entry="jobs.timer.job:run",
        hyperparameters=TIMER,
        quick=TIMER_QUICK,
        full=TIMER_FULL,
        resources=FOUNDATION,
        weights="timer",
        pretraining=TIMER_PRETRAINING,
    ),
    # Causal: reads out its newest token, so its pool is fixed to "last".
    torch_model(
        name="armattn",
        ids=("FD-21", "FD-22"),
        family="transformer",
        role="transformer",
        architecture=torch_module("armattn", "ARMAttention"),
        settings={"dropout": DROPOUT, "pool": choice("last")},
    ),
    Model(
        name="marketgpt",
        ids=("FD-23", "FD-24"),
        slug_stem="marketgpt",
        family="foundation",
        role="foundation",
        env="torch",
        entry=None,
        resources=FOUNDATION,
        unavailable=Unavailable(
            "not applicable",
            "MarketGPT (arXiv 2411.16585) generates NASDAQ ITCH order-book messages, not daily OHLCV bars",
        ),
    ),
    Model(
        name="lens",
        ids=("FD-25", "FD-26"),
        slug_stem="lens",
        family="foundation",
        role="foundation",
        env="torch",
        entry=None,
        resources=FOUNDATION,
        unavailable=Unavailable(
            "no public weights",
            "LENS (arXiv 2408.10111) published no checkpoint to load; "
            "pre-training it (100B observations) is out of scope",
        ),
    ),
    Model(
        name="chronos2",
        ids=("FD-27", "FD-28"),
        slug_stem="chronos2",
        family="foundation",
        role="foundation",
        env="chronos",
        entry="jobs.chronos2.job:run",
        hyperparameters=CHRONOS2,
        quick=CHRONOS2_QUICK,
        full=CHRONOS2_FULL,
        resources=FOUNDATION,
        weights="chronos2",
        pretraining=CHRONOS2_PRETRAINING,
    ),
    # 2026 foundation models (issue 33): their own environments; each sees the 24 other features where it can.
    Model(
        name="tirex2",
        ids=("FD-29", "FD-30"),
        slug_stem="tirex2",
        family="foundation",
        role="foundation",
        env="tirex",
        entry="jobs.tirex.tirex2_job:run",
        hyperparameters=TIREX2,
        quick=TIREX2_QUICK,
        full=TIREX2_FULL,
        resources=FOUNDATION,
        weights="tirex2",
        pretraining=TIREX2_PRETRAINING,
    ),
    # A pre-trained PatchTST: against the from-scratch PatchTST it isolates pre-training (same architecture).
    Model(
        name="patchtstfm",
        ids=("FD-31", "FD-32"),
        slug_stem="patchtstfm",
        family="foundation",
        role="foundation",
        env="granite",
        entry="jobs.granite.patchtstfm_job:run",
        hyperparameters=GRANITE_TUNING,
        quick=PATCHTSTFM_QUICK,
        full=PATCHTSTFM_FULL,
        resources=FOUNDATION,
        weights="patchtstfm",
        pretraining=PATCHTSTFM_PRETRAINING,
    ),
    Model(
        name="ttm",
        ids=("FD-33", "FD-34"),
        slug_stem="ttm",
        family="foundation",
        role="foundation",
        env="granite",
        entry="jobs.granite.ttm_job:run",
        hyperparameters=GRANITE_TUNING,
        quick=TTM_QUICK,
        full=TTM_FULL,
        resources=FOUNDATION,
        weights="ttm",
        pretraining=TTM_PRETRAINING,
    ),
    # TiRex 1.x as a classifier: its frozen per-variate embeddings of the 25 features -> a logistic head.
    Model(
        name="tirexcls",
        ids=("FD-35", "FD-36"),
        slug_stem="tirexcls",
        family="foundation",
        role="foundation",
        env="tirex",
        entry="jobs.tirex.tirexcls_job:run",
        hyperparameters=TIREXCLS,
        quick=TIREXCLS_QUICK,
        full=TIREXCLS_FULL,
        resources=FOUNDATION,
        weights="tirexcls",
        pretraining=TIREX_PRETRAINING,
        licence=NXAI_COMMUNITY_LICENCE,
    ),
    torch_model(
        name="patchtst",
        ids=("BL-01", "BL-02"),
        family="transformer",
        role="transformer",
        architecture=torch_module("patchtst", "PatchTST"),
        settings=PATCHTST,
    ),
    Model(
        name="logreg",
        ids=("BL-03", "BL-04"),
        slug_stem="logreg",
        family="classical",
        role="baseline",
        env="sklearn",
        entry="jobs.baselines.sklearn_models:logreg_features",
        hyperparameters=LOGREG,
        unspelled={"quick": LOGREG_UNSPELLED, "full": LOGREG_UNSPELLED},
        resources=SKLEARN,
    ),
    Model(
        name="logreg-vol",
        ids=("BL-05", "BL-06"),
        slug_stem="logregvol",
        family="classical",
        role="baseline",
        env="sklearn",
        entry="jobs.baselines.sklearn_models:logreg_volatility",
        hyperparameters=LOGREG,
        unspelled={"quick": LOGREG_UNSPELLED, "full": LOGREG_UNSPELLED},
        resources=SKLEARN,
    ),
    Model(
        name="gboost",
        ids=("BL-07", "BL-08"),
        slug_stem="gboost",
        family="classical",
        role="baseline",
        env="sklearn",
        entry="jobs.baselines.sklearn_models:gradient_boosting",
        hyperparameters=GBOOST,
        quick={"max_iter": 200},
        full={"max_iter": 400},
        unspelled={"quick": GBOOST_UNSPELLED, "full": GBOOST_UNSPELLED},
        resources=SKLEARN,
    ),
    # The plan's second baseline row: the same PatchTST at 200M parameters (full profile).
    torch_model(
        name="patchtst-200m",
        ids=("BL-09", "BL-10"),
        family="transformer",
        role="transformer",
        architecture=torch_module("patchtst", "PatchTST"),
        settings=PATCHTST,
        full={"size": 200_000_000},
        resources=LARGE_TORCH,
        note=f"quick profile: a {TORCH_QUICK['size']:,}-parameter CPU stand-in, not 200M",
    ),
    torch_model(
        name="patchtst-causal",
        ids=("CT-01", "CT-02"),
        family="transformer",
        role="transformer",
        architecture=torch_module("patchtst", "PatchTST", causal=True, pool="last"),
        settings=PATCHTST_CAUSAL,
    ),
    torch_model(
        name="dlinear",
        ids=("CT-03", "CT-04"),
        family="no-attention",
        role="no-attention",
        architecture=torch_module("dlinear", "DLinear"),
        settings={"moving_avg": whole(1, LENGTH, odd=True), "dropout": DROPOUT},
    ),
    # H1's same-input control: PatchTST on log High alone, the input the foundation models forecast from.
    torch_model(
        name="patchtst-high",
        ids=("CT-05", "CT-06"),
        family="transformer",
        role="control",
        architecture=torch_module("patchtst", "PatchTST"),
        settings=PATCHTST,
        extra={"inputs": "high"},
    ),
)
# The plan's reference every result is compared with, and H1's same-input control.
REFERENCE_MODEL = "patchtst"
SAME_INPUT_CONTROL = "patchtst-high"


def check_catalog(models: tuple[Model, ...]) -> None:
    """Refuse a catalog that would break identities or the plan: duplicate names/ids/slugs, an id count
    that does not match the horizons, defaults outside their declarations."""
    problems = []
    for kind, values in (
        ("name", [m.name for m in models]),
        ("id", [i for m in models for i in m.ids]),
        ("slug stem", [m.slug_stem for m in models]),
    ):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            problems.append(f"duplicate {kind}(s) {duplicates}")
    for m in models:
        if (m.entry == TORCH_JOB) != (m.architecture is not None):
            problems.append(f"{m.name}: the torch job needs an architecture, and only it takes one")
        if len(m.ids) != len(HORIZONS):
            problems.append(f"{m.name}: {len(m.ids)} ids for {len(HORIZONS)} horizons")
        unknown_profiles = sorted(set(m.unspelled) - set(PROFILES))
        if unknown_profiles:
            problems.append(f"{m.name}: unspelled defaults for unknown profile(s) {unknown_profiles}")
        for profile in PROFILES:
            spelled_twice = sorted(set(m.unspelled.get(profile, {})) & set(m.defaults(profile)))
            if spelled_twice:
                problems.append(f"{m.name}: {profile} keys {spelled_twice} are both spelled out and unspelled")
            for key, value in m.job_defaults(profile).items():
                if key not in m.hyperparameters:
                    problems.append(f"{m.name}: {profile} default {key!r} is not a declared hyperparameter")
                else:
                    m.hyperparameters[key].check(key, value)
        if m.group_entry is not None and m.entry is None:
            problems.append(f"{m.name}: a seed-group entry without a job entry")
        if m.role not in (m.family, "control") and (m.family, m.role) != ("classical", "baseline"):
            problems.append(
                f"{m.name}: role {m.role!r} for family {m.family!r} (module docstring: role is the family, "
                "'baseline' for a classical model, or 'control')"
            )
        if m.pretraining is not None and m.role != "foundation":
            problems.append(f"{m.name}: pre-training facts on a {m.role} model")
    for name, role in ((REFERENCE_MODEL, "transformer"), (SAME_INPUT_CONTROL, "control")):
        if not any(m.name == name and m.role == role for m in models):
            problems.append(f"{name!r} must be a catalog model with role {role!r}")
    if problems:
        raise ValueError("model catalog: " + "; ".join(problems))


check_catalog(MODELS)
BY_NAME: dict[str, Model] = {m.name: m for m in MODELS}


def job_identity(name: str) -> str:
    """A model's entry as its run keys hash it; "null" for a name the catalog does not know (a job
    for it fails with 'unknown model')."""
    return BY_NAME[name].job_identity() if name in BY_NAME else "null"
