"""Hyper-parameter defaults of the torch models, per profile, read from the model catalog
(jobs/catalog.py, where they are declared). Pure data (no torch import), so the orchestrator and the
benchmarks can read them. A spec's hyperparameters override these key by key; the job rejects keys
the catalog does not declare. Architecture settings (patch_len, seg_len, modes, pool, ...) the spec
leaves out take their config class's default.
"""

from jobs.catalog import MODELS, TORCH_FULL, TORCH_JOB

MODEL_NAMES = tuple(m.name for m in MODELS if m.entry == TORCH_JOB)

# The full profile's training settings, shared by every torch model: what the side-by-side bench
# against Time-Series-Library (../shared/anchors/bench_vs_tslib.py) trains its project side with.
FULL_DEFAULTS: dict[str, object] = dict(TORCH_FULL)

FULL_HYPERPARAMETERS: dict[str, dict[str, int | float | str]] = {
    m.name: m.defaults("full") for m in MODELS if m.entry == TORCH_JOB
}
QUICK_HYPERPARAMETERS: dict[str, dict[str, int | float | str]] = {
    m.name: m.defaults("quick") for m in MODELS if m.entry == TORCH_JOB
}


def defaults(model: str, profile: str) -> dict[str, int | float | str]:
    """The defaults a job starts from before applying the spec's own hyperparameters."""
    table = QUICK_HYPERPARAMETERS if profile == "quick" else FULL_HYPERPARAMETERS
    return dict(table[model])
