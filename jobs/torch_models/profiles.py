"""Hyper-parameter defaults of the torch models, per profile. Pure data (no torch import), so the
orchestrator can read them. A spec's hyperparameters override these key by key; the job rejects
keys it does not know. Besides the keys below, a model accepts its own architecture settings
(e.g. patch_len, stride, seg_len, modes, top_k, pool): see its config class.
"""

MODEL_NAMES = (
    "patchtst",
    "patchtst-causal",
    "itransformer",
    "timemixer",
    "informer",
    "autoformer",
    "fedformer",
    "etsformer",
    "crossformer",
    "dlinear",
    "armattn",
    "patchtst-200m",  # the same PatchTST at the plan's 200M parameters (full profile)
    "patchtst-high",
)

# The full profile: the published reference is PatchTST at 2M parameters.
FULL_DEFAULTS: dict[str, int | float | str] = {
    "size": 2_000_000,  # target parameter count; width and depth are computed to land within 10%
    "epochs": 30,  # an upper bound: early stopping on validation AUC usually ends sooner
    "patience": 5,  # epochs without a better validation AUC before stopping
    "batch_size": 64,
    "eval_batch_size": 256,  # prediction only; does not change results
    "lr": 3e-4,  # AdamW peak learning rate, reached after warm-up, then cosine-decayed to 0
    "warmup_fraction": 0.05,  # share of all optimiser steps spent warming up linearly
    "weight_decay": 0.05,  # on weight matrices and embeddings, not on biases and norms
    "grad_clip": 1.0,  # maximum global gradient norm
    "dropout": 0.1,
    "max_train_windows": 0,  # 0 = every training window; N = the N most recent ones
    "compile": False,  # torch.compile for training; measured by `orch bench study`, off where it does not pay
    "precision": "auto",  # bf16 autocast on CUDA, fp32 on CPU/MPS; "bf16" also on CPU (faster, results move), "fp32"
}

# About 15-40 s per job on a 2-core CPU: small models, few epochs, recent windows only. Dropout
# is off: four epochs are too short to overfit, and its random masks cost ~30% of a CPU step.
QUICK_OVERRIDES: dict[str, int | float] = {
    "size": 100_000,
    "epochs": 4,
    "patience": 2,
    "lr": 1e-3,
    "dropout": 0.0,
    "max_train_windows": 1_500,
}

# The plan's second baseline row. Quick keeps QUICK_OVERRIDES' size: a CPU-sized stand-in, and
# every listing of the experiment says so.
SIZE_BY_MODEL: dict[str, int] = {"patchtst-200m": 200_000_000}

# What a model sees (job.INPUT_SETS); models not listed see every feature ("all").
# patchtst-high is H1's same-input control: PatchTST on the foundation models' univariate High input.
INPUTS: dict[str, dict[str, str]] = {"patchtst-high": {"inputs": "high"}}

FULL_HYPERPARAMETERS: dict[str, dict[str, int | float | str]] = {
    name: {**FULL_DEFAULTS, **({"size": SIZE_BY_MODEL[name]} if name in SIZE_BY_MODEL else {}), **INPUTS.get(name, {})}
    for name in MODEL_NAMES
}
QUICK_HYPERPARAMETERS: dict[str, dict[str, int | float | str]] = {
    name: {**FULL_DEFAULTS, **QUICK_OVERRIDES, **INPUTS.get(name, {})} for name in MODEL_NAMES
}


def defaults(model: str, profile: str) -> dict[str, int | float | str]:
    """The defaults a job starts from before applying the spec's own hyperparameters."""
    table = QUICK_HYPERPARAMETERS if profile == "quick" else FULL_HYPERPARAMETERS
    return dict(table[model])
