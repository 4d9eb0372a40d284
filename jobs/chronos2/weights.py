"""The Chronos-2 weights cache: `<weights_dir>/chronos2/` = weights.json + the published
`config.json` and `model.safetensors` of `amazon/chronos-2` (`orch weights pull chronos2`, or
`orch weights import chronos2 FOLDER` for a snapshot downloaded elsewhere).

Loading goes through the package's own `Chronos2Pipeline.from_pretrained(folder)`, the call a user
makes for the published model, with no network. Tests and benchmarks write random-initialised
checkpoints in the same layout, built from the package's own config classes (`write_random_init`);
their results say `random-init`.

    python -m jobs.chronos2.weights FOLDER [--size tiny|base]   # a random-init checkpoint to import
"""

import argparse
import json
from pathlib import Path

import torch

from jobs.chronos2.published import CONFIG_FILE, FACTS, WEIGHTS_FILE
from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, ResolvedWeights, sha256_file, verified_weights, weights_source
from shared_schema import WeightsManifest

MODEL_DIR = "chronos2"
HUB_ID = "amazon/chronos-2"
PULL_COMMAND = "orch weights pull chronos2"
# The published quantile grid (21 levels): 0.01, 0.05, 0.10, 0.15, ..., 0.90, 0.95, 0.99.
QUANTILES = [0.01, *[round(0.05 * k, 2) for k in range(1, 20)], 0.99]
# Random-init shapes for tests and benchmarks: `tiny` for the suites (~67k parameters); `base` for timing,
# d_model 768 x 12 layers (119.5M parameters, the published amazon/chronos-2's 120M; its config.json is
# not held here, so the shape is inferred from that count).
SIZES = {
    "tiny": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4},
    "base": {"d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12, "num_heads": 12},
}


def resolve_weights(weights_dir: Path | None) -> ResolvedWeights:
    """The cache's config and safetensors, hash-checked; fails fast, before torch reads a tensor."""
    folder, manifest = verified_weights(weights_dir, MODEL_DIR, "Chronos-2", PULL_COMMAND, (CONFIG_FILE, WEIGHTS_FILE))
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except ValueError as exc:
        raise JobError(f"{folder / CONFIG_FILE}: not JSON ({exc})") from exc
    if not isinstance(config, dict) or "chronos_config" not in config:
        raise JobError(f"{folder / CONFIG_FILE}: not a Chronos-2 config (no chronos_config)")
    differences = FACTS.differences(files=manifest.files, config=config) if manifest.kind == "pretrained" else []
    if differences:
        raise JobError(
            f"{folder / MANIFEST_FILE} says pretrained {manifest.hub_id}, but these are not its weights: "
            f"{'; '.join(differences)}; reinstall with `{PULL_COMMAND}` or `orch weights import chronos2 PATH`"
        )
    return ResolvedWeights(folder, weights_source(manifest, WEIGHTS_FILE))


def load_pipeline(resolved: ResolvedWeights, device: torch.device):
    """The package's pipeline over the cached checkpoint, float32, on `device`."""
    from chronos import Chronos2Pipeline

    try:
        pipeline = Chronos2Pipeline.from_pretrained(str(resolved.folder), device_map=str(device), dtype=torch.float32)
    except (OSError, ValueError, RuntimeError, AssertionError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise JobError(f"{resolved.folder}: not a loadable Chronos-2 checkpoint ({reason})") from exc
    pipeline.model.eval()
    return pipeline


def write_checkpoint(folder: Path, *, size: str = "tiny", seed: int = 0, context_length: int = 8192) -> Path:
    """config.json + model.safetensors of a random-initialised Chronos-2 (the published layout, as
    `save_pretrained` writes it), built from the package's config classes."""
    from chronos.chronos2 import Chronos2Model
    from chronos.chronos2.config import Chronos2CoreConfig

    config = Chronos2CoreConfig(
        **SIZES[size],
        chronos_config={
            "context_length": context_length,
            "input_patch_size": 16,
            "input_patch_stride": 16,
            "output_patch_size": 16,
            "max_output_patches": 64,
            "quantiles": QUANTILES,
            "use_reg_token": True,
            "use_arcsinh": True,
            "time_encoding_scale": context_length,
        },
        architectures=["Chronos2Model"],
        chronos_pipeline_class="Chronos2Pipeline",
    )
    torch.manual_seed(seed)
    folder = Path(folder)
    Chronos2Model(config).save_pretrained(folder)
    return folder


def write_random_init(weights_dir: Path, *, size: str = "tiny", seed: int = 0) -> Path:
    """<weights_dir>/chronos2/ as the cache holds it, random weights, weights.json kind 'random-init'."""
    folder = write_checkpoint(Path(weights_dir) / MODEL_DIR, size=size, seed=seed)
    files = {name: sha256_file(folder / name) for name in (CONFIG_FILE, WEIGHTS_FILE)}
    manifest = WeightsManifest(model=MODEL_DIR, kind="random-init", files=files)
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a random-initialised Chronos-2 checkpoint (published layout).")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = write_checkpoint(args.folder, size=args.size, seed=args.seed)
    print(f"random-init Chronos-2 ({args.size}) written to {folder}")


if __name__ == "__main__":
    main()
