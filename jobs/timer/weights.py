"""The Timer weights cache: `<weights_dir>/timer/` = weights.json + the published `config.json` and
`model.safetensors` of `thuml/timer-base-84m` (`orch weights pull timer`).

Loading is strict and needs no `transformers`: the config's architecture keys build
`model.TimerForPrediction`, and `safetensors` reads the tensors, which must match its state dict
name for name and shape for shape. Tests and benchmarks write random-initialised checkpoints in
the same layout (weights.json kind 'random-init').
"""

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, sha256_file, verified_weights, weights_source
from jobs.timer.model import TimerConfig, TimerForPrediction
from jobs.timer.published import CONFIG_FILE, FACTS, WEIGHTS_FILE
from shared_schema import WeightsManifest, WeightsSource
from shared_schema.checkpoints import tensor_shapes

MODEL_DIR = "timer"
HUB_ID = "thuml/timer-base-84m"
PULL_COMMAND = "orch weights pull timer"


@dataclass(frozen=True)
class ResolvedWeights:
    config: TimerConfig
    weights_file: Path
    source: WeightsSource


def resolve_weights(weights_dir: Path | None) -> ResolvedWeights:
    """The cache's config and safetensors, hash-checked; fails fast (before any tensor is read)."""
    folder, manifest = verified_weights(weights_dir, MODEL_DIR, "Timer", PULL_COMMAND, (CONFIG_FILE, WEIGHTS_FILE))
    try:
        config = TimerConfig.from_json(folder / CONFIG_FILE)
    except (ValueError, TypeError) as exc:
        raise JobError(f"{folder / CONFIG_FILE}: not a Timer config ({exc})") from exc
    if manifest.kind == "pretrained":
        check_published(folder, manifest)
    return ResolvedWeights(config, folder / WEIGHTS_FILE, weights_source(manifest, WEIGHTS_FILE))


def check_published(folder: Path, manifest: WeightsManifest) -> None:
    """Weights that weights.json calls the published checkpoint must be it (jobs/timer/published.py):
    config values, tensor count and parameter total, read without loading a tensor."""
    try:
        config = json.loads((folder / CONFIG_FILE).read_bytes())
        tensors = tensor_shapes(folder / WEIGHTS_FILE)
    except (ValueError, OSError) as exc:
        raise JobError(f"{folder}: cannot compare with the published checkpoint ({exc})") from None
    differences = FACTS.differences(files=manifest.files, config=config, tensors=tensors)
    if differences:
        raise JobError(
            f"{folder / MANIFEST_FILE} says pretrained {manifest.hub_id}, but these are not its weights: "
            f"{'; '.join(differences)}; reinstall with `{PULL_COMMAND}` or `orch weights import timer PATH`"
        )


def load_published(resolved: ResolvedWeights) -> TimerForPrediction:
    """Every published tensor into its module, float32; a missing, extra or mis-shaped name fails."""
    from safetensors.torch import load_file

    model = TimerForPrediction(resolved.config)
    tensors = {name: tensor.float() for name, tensor in load_file(str(resolved.weights_file)).items()}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise JobError(
            f"{resolved.weights_file}: does not fit the Timer architecture: {' '.join(str(exc).split())[:300]}"
        ) from exc
    return model


def write_random_init(weights_dir: Path, config: TimerConfig, seed: int = 0) -> Path:
    """<weights_dir>/timer/{config.json, model.safetensors, weights.json}, random weights, published layout."""
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = TimerForPrediction(config)
    folder = Path(weights_dir) / MODEL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(config.to_json(), indent=2) + "\n")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / WEIGHTS_FILE))
    files = {name: sha256_file(folder / name) for name in (CONFIG_FILE, WEIGHTS_FILE)}
    manifest = WeightsManifest(model=MODEL_DIR, kind="random-init", files=files)
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n")
    return folder
