"""The TimesFM job's hyper-parameters, resolved from its catalog entry (jobs/catalog.py)."""

from dataclasses import dataclass, replace

from jobs.common.settings import SpecSettings
from shared_schema import ExperimentSpec


@dataclass(frozen=True)
class Settings(SpecSettings):
    mode: str
    max_steps: int
    batch_size: int
    lr: float
    eval_every: int
    patience: int
    max_train_windows: int
    max_val_loss_windows: int
    finetune_params: str
    dependence: str
    flip_invariance: bool
    probe_l2: tuple[float, ...]
    probe_steps: int
    predict_batch_size: int

    @classmethod
    def from_spec(cls, spec: ExperimentSpec) -> "Settings":
        settings = super().from_spec(spec)
        if settings.flip_invariance is None:  # the package's default for the checkpoint as published
            return replace(settings, flip_invariance=settings.mode == "zero-shot")
        return settings
