"""Several seeds of one torch experiment in one process: one data load, one set of device-resident
windows, one CUDA context; each seed then trains exactly as it would alone.

Seeds are trained one after another, not vectorised with torch.func (stacked parameters + vmap):
vmap batches every matmul across seeds and draws dropout masks from one stream, so a seed's
result would no longer equal its separate run bit for bit, and early stopping ends seeds at
different epochs. Sequential seeds keep results identical (tested) and save the per-process
start-up, import and windowing that separate runs repeat; `orch bench study --seeds N` shows the
saving (run it with `--repo` on an older checkout for separate processes). What vmap would add on
a GPU (several small models' kernels batched into one launch) has not been measured here.
"""

from collections.abc import Iterator
from pathlib import Path

from jobs.common.contract import ModelOutput
from jobs.common.dataset import Dataset
from jobs.torch_models.job import prepare, train_seed
from shared_schema import ExperimentSpec


def fit_predict_seeds(specs: list[ExperimentSpec], dataset: Dataset, weights_dir: Path | None) -> Iterator[ModelOutput]:
    """One ModelOutput per spec, in order; the specs differ only in seed (the runner checks)."""
    inputs = prepare(specs[0], dataset)
    for spec in specs:
        yield train_seed(spec, inputs)
