"""The TimesFM job's hyper-parameters, resolved from its catalog entry (jobs/catalog.py)."""

from dataclasses import dataclass

from jobs.catalog import BY_NAME
from shared_schema import ExperimentSpec


@dataclass(frozen=True)
class Settings:
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
        values = BY_NAME[spec.model].resolve(spec)  # jobs/catalog.py: declaration and defaults
        if values["flip_invariance"] is None:  # the package's default for the checkpoint as published
            values["flip_invariance"] = values["mode"] == "zero-shot"
        values["probe_l2"] = tuple(values["probe_l2"])
        return cls(**values)
