"""The entry function every torch model name is registered to: spec + dataset -> ModelOutput.

Which architecture runs is looked up in `zoo.ARCHITECTURES` by `spec.model`; everything else
(windows, sizing, training, prediction) is the same code for all of them.
"""

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from jobs.catalog import BY_NAME
from jobs.common import progress
from jobs.common.contract import ModelOutput, SplitPredictions
from jobs.common.dataset import Dataset
from jobs.common.device import torch_device
from jobs.common.errors import JobError
from jobs.common.runner import thread_count
from jobs.common.windows import Normaliser, SplitWindows, WindowedData, make_windows
from jobs.torch_models import kernels
from jobs.torch_models.sizing import sized_config
from jobs.torch_models.trainer import (
    TrainSettings,
    fit,
    make_deterministic,
    on_device,
    predict_logits,
    probabilities,
)
from jobs.torch_models.zoo import ARCHITECTURES, Architecture
from shared_schema import ExperimentSpec, WeightsSource

PACKAGES = ("torch",)
TRAINING_KEYS = frozenset(f.name for f in dataclasses.fields(TrainSettings)) - {"seed"}
# What the model sees. 'high' is H1's same-input control: the foundation models forecast the High
# series and are scored against today's close, so the control sees log(High_s / Close_t) over its
# window and nothing else (no open/low/volume/indicators).
INPUT_SETS = ("all", "high")
DEFAULT_INPUTS = "all"


@dataclass(frozen=True)
class Plan:
    """A spec's hyperparameters, checked and sorted by who uses them."""

    size: int
    max_train_windows: int
    inputs: str
    cpu_kernels: str  # jobs/torch_models/kernels.py's switch
    training: TrainSettings
    architecture: dict[str, object]


def plan(spec: ExperimentSpec, architecture: Architecture) -> Plan:
    """Keys, types and bounds come from the shared declaration (the host checked `--set` against
    it too); the config class then checks what depends on the data's shape."""
    tunable = architecture.tunable()
    values = BY_NAME[spec.model].resolve(spec)
    try:
        training = TrainSettings(seed=spec.seed, **{k: values[k] for k in TRAINING_KEYS})
    except ValueError as exc:
        raise JobError(f"invalid training hyperparameters: {exc}") from exc
    return Plan(
        size=values["size"],
        max_train_windows=values["max_train_windows"],
        inputs=values.get("inputs", DEFAULT_INPUTS),
        cpu_kernels=values["cpu_kernels"],
        training=training,
        architecture={k: v for k, v in values.items() if k in tunable},
    )


def model_inputs(dataset: Dataset, horizon: int, context_length: int, inputs: str) -> WindowedData:
    """Windows of every feature, or (inputs='high') of log(High_s / Close_t) alone: the close only
    anchors the level, as it does when a foundation model's High forecast is turned into a score."""
    if inputs == "all":
        return make_windows(dataset, horizon, context_length)
    data = make_windows(dataset, horizon, context_length, features=["high", "close"])

    def high_only(split: SplitWindows) -> SplitWindows:
        return dataclasses.replace(split, x=np.ascontiguousarray(split.x[:, :, :1]))

    return WindowedData(
        train=high_only(data.train),
        val=high_only(data.val),
        test=high_only(data.test),
        normaliser=Normaliser(data.normaliser.mean[:1], data.normaliser.std[:1]),
        feature_names=["high"],
    )


@dataclass(frozen=True)
class Inputs:
    """What every seed of one experiment shares: the windows (on the device), the sized config."""

    architecture: Architecture
    config: object
    device: torch.device
    data: WindowedData
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    x_test: torch.Tensor


def prepare(spec: ExperimentSpec, dataset: Dataset) -> Inputs:
    """Windows, sizing and device for `spec`; independent of its seed."""
    architecture = ARCHITECTURES.get(spec.model)
    if architecture is None:
        raise JobError(f"no torch architecture named {spec.model!r}; known: {sorted(ARCHITECTURES)}")
    settings = plan(spec, architecture)
    torch.set_num_threads(thread_count())
    device = torch_device(spec.device)
    data = model_inputs(dataset, spec.horizon, spec.context_length, settings.inputs)
    recent = slice(-settings.max_train_windows, None) if settings.max_train_windows else slice(None)
    try:
        config = sized_config(
            architecture,
            settings.size,
            context_length=spec.context_length,
            n_features=len(data.feature_names),
            **settings.architecture,
        )
    except ValueError as exc:
        raise JobError(f"{spec.model}: {exc}") from exc
    return Inputs(
        architecture,
        config,
        device,
        data,
        x_train=on_device(data.train.x[recent], device),
        y_train=on_device(data.train.y[recent].astype(np.float32), device),
        x_val=on_device(data.val.x, device),
        x_test=on_device(data.test.x, device),
    )


def fit_predict(spec: ExperimentSpec, dataset: Dataset, weights_dir: Path | None) -> ModelOutput:
    """Train from scratch on train, select on val, predict val and test once with the best weights."""
    return train_seed(spec, prepare(spec, dataset))


def train_seed(spec: ExperimentSpec, inputs: Inputs) -> ModelOutput:
    """One seed's model, from its own initialisation to its val/test probabilities."""
    settings = plan(spec, inputs.architecture)
    device, data = inputs.device, inputs.data
    make_deterministic(spec.seed, device)
    kernels.select(settings.cpu_kernels)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = inputs.architecture.model(inputs.config).to(device)
    n_parameters = sum(p.numel() for p in model.parameters())
    n_train = len(inputs.y_train)
    print(
        f"[torch] {spec.model} seed {spec.seed}: {n_parameters:,} parameters on {device}, {n_train} training windows",
        flush=True,
    )

    started = time.perf_counter()
    report = fit(
        model,
        (inputs.x_train, inputs.y_train),
        (inputs.x_val, data.val.y),
        settings.training,
        on_epoch=lambda epoch, auc: progress.emit(
            seed=spec.seed, epoch=epoch, epochs=settings.training.epochs, val_auc=auc
        ),
    )
    trained = time.perf_counter()
    batch = settings.training.eval_batch_size
    precision = settings.training.precision
    p_val = probabilities(predict_logits(model, inputs.x_val, batch, precision), report.pos_weight)
    p_test = probabilities(predict_logits(model, inputs.x_test, batch, precision), report.pos_weight)
    predicted = time.perf_counter()

    shape = {
        k: getattr(inputs.config, k) for k in ("d_model", "d_ff", "n_layers", "n_heads") if hasattr(inputs.config, k)
    }
    gpu = {"gpu_peak_gb": torch.cuda.max_memory_reserved(device) / 2**30} if device.type == "cuda" else {}
    return ModelOutput(
        val=SplitPredictions(data.val.dates, data.val.y, p_val),
        test=SplitPredictions(data.test.dates, data.test.y, p_test),
        n_parameters=n_parameters,
        n_train=n_train,
        weights=WeightsSource(kind="from-scratch"),
        train_seconds=trained - started,
        predict_seconds=predicted - trained,
        device=str(device),
        packages=PACKAGES,
        notes={
            "device": str(device),
            "size_target": settings.size,
            # A quick run at another size is a stand-in for the study's model (e.g. 100k for PatchTST 200M).
            "full_profile_size": int(BY_NAME[spec.model].full["size"]),
            "inputs": settings.inputs,
            "cpu_kernels": settings.cpu_kernels,
            **shape,
            "epochs_run": report.epochs_run,
            "best_epoch": report.best_epoch,
            **({"best_val_auc": report.best_val_auc} if report.best_val_auc is not None else {}),
            "train_windows_available": len(data.train.y),
            "pos_weight": report.pos_weight,
            "probabilities": "sigmoid(logit - ln pos_weight): the class weighting's prior shift undone",
            **gpu,
        },
    )
