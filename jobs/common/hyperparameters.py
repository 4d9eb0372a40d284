"""Every model's hyper-parameters as data: names, types and bounds, checked on both sides.

The host checks `orch run --set KEY=VALUE` against this table before planning, so a mistyped key
or an impossible value is a one-line error instead of a silently ignored setting or a crash inside
the job; each job resolves its spec's hyper-parameters through the same table. Standard library
only: the host imports it without any ML stack. Defaults stay with the code that uses them
(`torch_models/profiles.py`, the config classes, the job modules); `tests/test_hyperparameters.py`
and the image suites fail when this table and that code disagree. Cross-field rules (stride <=
patch_len, ...) stay in the config classes, which know the data's shape.
"""

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches

from jobs.common.errors import JobError

MAX_SHOWN = 60  # characters of a key or value quoted in a message


BOUNDS = (("low", ">=", operator.ge), ("high", "<=", operator.le), ("above", ">", operator.gt), ("below", "<", operator.lt))


class HyperparameterError(JobError, ValueError):
    """A key or value a model does not accept; the message is one line (inside a job it is a
    JobError, reported like any other; the host turns it into a UserError)."""


class UnknownHyperparameter(HyperparameterError):
    """A key the model does not have (as opposed to a bad value for a key it has)."""


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Param:
    kind: str  # "int" | "float" | "bool" | "choice" | "floats" (a list of floats; one float is a list of one)
    low: float | None = None  # inclusive bounds
    high: float | None = None
    above: float | None = None  # exclusive bounds
    below: float | None = None
    options: tuple[str, ...] = ()
    odd: bool = False
    nullable: bool = False

    def check(self, key: str, value: object) -> object:
        """The value in its canonical type (2e6 -> 2000000 for an int), or HyperparameterError."""
        if value is None and self.nullable:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise HyperparameterError(f"hyperparameter {key!r} must be true or false, got {shown(value)}")
            return value
        if self.kind == "choice":
            if value not in self.options:
                raise HyperparameterError(f"hyperparameter {key!r} must be one of {list(self.options)}, got {shown(value)}")
            return value
        if self.kind == "floats":
            items = value if isinstance(value, list) else [value]
            if not 1 <= len(items) <= 64:
                raise HyperparameterError(f"hyperparameter {key!r} must list 1 to 64 numbers, got {len(items)}")
            return [self._number(key, item, whole=False) for item in items]
        return self._number(key, value, whole=self.kind == "int")

    def _number(self, key: str, value: object, whole: bool) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise HyperparameterError(f"hyperparameter {key!r} must be a number, got {shown(value)}")
        given = value
        if not whole and isinstance(value, int):
            value = float(value) if abs(value) < 2**1023 else math.inf
        if isinstance(value, float) and not math.isfinite(value):
            raise HyperparameterError(f"hyperparameter {key!r} must be a finite number, got {shown(given)}")
        if whole:
            if value != int(value):
                raise HyperparameterError(f"hyperparameter {key!r} must be a whole number, got {shown(given)}")
            value = int(value)
        for name, sign, holds in BOUNDS:
            bound = getattr(self, name)
            if bound is not None and not holds(value, bound):
                raise HyperparameterError(f"hyperparameter {key!r} must be {sign} {bound:g}, got {shown(given)}")
        if self.odd and value % 2 != 1:
            raise HyperparameterError(f"hyperparameter {key!r} must be odd, got {shown(given)}")
        return value


def whole(low: int, high: int, odd: bool = False) -> Param:
    return Param("int", low=low, high=high, odd=odd)


def real(low: float | None = None, high: float | None = None, above: float | None = None,
         below: float | None = None) -> Param:
    return Param("float", low=low, high=high, above=above, below=below)


def flag(nullable: bool = False) -> Param:
    return Param("bool", nullable=nullable)


def choice(*options: str) -> Param:
    return Param("choice", options=options)


BIG = 10**9  # ceiling for counts (windows, parameters): no real run comes near it
LENGTH = 4096  # ceiling for lengths within a context window (the spec's context_length maximum)
BATCH = 65536
STEPS = 10**6
POSITIVE = real(above=0)
DROPOUT = real(low=0, below=1)
POOL = choice("mean", "last")  # torch_models.layers.Pool

# -- torch models: training settings (trainer.TrainSettings) and data settings (job.Plan) ----------
TORCH_TRAINING = {
    "size": whole(1_000, BIG),  # target parameter count
    "max_train_windows": whole(0, BIG),  # 0 = every training window
    "inputs": choice("all", "high"),  # job.INPUT_SETS: every feature, or H1's same-input control (High only)
    "epochs": whole(1, 100_000),
    "patience": whole(1, 100_000),
    "batch_size": whole(1, BATCH),
    "eval_batch_size": whole(1, BATCH),
    "lr": real(above=0, high=10),
    "warmup_fraction": real(low=0, below=1),
    "weight_decay": real(low=0, high=10),
    "grad_clip": POSITIVE,
    "compile": flag(),  # torch.compile for training (trainer.TrainSettings)
    "precision": choice("auto", "bf16", "fp32"),  # auto: bf16 autocast on CUDA, fp32 elsewhere
}
# -- each architecture's tunable config fields (zoo.Architecture.tunable()) ------------------------------
PATCHTST = {"patch_len": whole(1, LENGTH), "stride": whole(1, LENGTH), "dropout": DROPOUT}
ARCHITECTURES: dict[str, dict[str, Param]] = {
    "patchtst": {**PATCHTST, "causal": flag(), "pool": POOL},
    "patchtst-causal": PATCHTST,  # causal and pool are fixed by the control
    "patchtst-200m": {**PATCHTST, "causal": flag(), "pool": POOL},  # the same model at another size
    "patchtst-high": {**PATCHTST, "causal": flag(), "pool": POOL},  # the same model on the High input alone
    "armattn": {"dropout": DROPOUT, "pool": choice("last")},  # causal: reads out its newest token
    "itransformer": {"dropout": DROPOUT},
    "timemixer": {"down_sampling_window": whole(2, LENGTH), "down_sampling_layers": whole(1, 32),
                  "moving_avg": whole(1, LENGTH, odd=True), "dropout": DROPOUT, "pool": POOL},
    "informer": {"factor": whole(1, LENGTH), "distil": flag(), "dropout": DROPOUT, "pool": POOL},
    "autoformer": {"moving_avg": whole(1, LENGTH, odd=True), "factor": real(above=0, high=LENGTH),
                   "dropout": DROPOUT, "pool": POOL},
    "fedformer": {"modes": whole(1, LENGTH), "moving_avg": whole(1, LENGTH, odd=True), "dropout": DROPOUT, "pool": POOL},
    "etsformer": {"top_k": whole(1, LENGTH), "dropout": DROPOUT, "pool": POOL},
    "crossformer": {"seg_len": whole(1, LENGTH), "win_size": whole(2, LENGTH), "n_routers": whole(1, 1024),
                    "dropout": DROPOUT, "pool": POOL},
    "dlinear": {"moving_avg": whole(1, LENGTH, odd=True), "dropout": DROPOUT},
}
# -- scikit-learn baselines (baselines/sklearn_models.py) ------------------------------------------------
LOGREG = {"C": real(above=0, high=1e12), "max_iter": whole(1, STEPS)}
GBOOST = {"max_iter": whole(1, STEPS), "learning_rate": real(above=0, high=10), "max_depth": whole(1, 1024),
          "min_samples_leaf": whole(1, BIG), "l2_regularization": real(low=0, high=1e12)}
# -- foundation models (lagllama/job.py + lagllama/finetune.FineTuneSettings, timesfm/job.py, timer/profiles.py)
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
TIMER = {
    **FORECASTER_TUNING,
    "lookback_patches": whole(1, 1024),  # patches of 96 days
    "max_val_segments": whole(0, BIG),
}

DECLARED: dict[str, dict[str, Param]] = {
    "logreg": LOGREG,
    "logreg-vol": LOGREG,
    "gboost": GBOOST,
    **{model: {**TORCH_TRAINING, **settings} for model, settings in ARCHITECTURES.items()},
    "lagllama": LAGLLAMA,
    "timesfm": TIMESFM,
    "timer": TIMER,
}


def check_hyperparameters(model: str, values: Mapping[str, object]) -> dict[str, object]:
    """`values` with every key known to `model` and every value in its canonical type and bounds."""
    if model not in DECLARED:
        raise HyperparameterError(f"model {model!r} declares no hyperparameters (jobs/common/hyperparameters.py)")
    declared = DECLARED[model]
    unknown = [key for key in values if key not in declared]
    if unknown:
        key = unknown[0]
        hint = [k for k in declared if k.lower() == key.lower()] or get_close_matches(key, declared, n=1, cutoff=0.6)
        raise UnknownHyperparameter(
            f"unknown hyperparameter(s) [{', '.join(shown(k) for k in unknown[:3])}{', ...' if len(unknown) > 3 else ''}]"
            f" for {model}{f' (did you mean {hint[0]!r}?)' if hint else ''}; known: {', '.join(declared)}")
    return {key: declared[key].check(key, value) for key, value in values.items()}
