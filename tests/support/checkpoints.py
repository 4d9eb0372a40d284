"""Checkpoints in the published on-disk layouts, with random values: what `orch weights import`
and the jobs' weights checks are tested on (no weights can be downloaded here)."""

import json

import torch

from tests.support.helpers import REPO

LAG_LLAMA_PARAMS = REPO / "tests" / "images" / "gluonts" / "fixtures" / "params.json"
COMMIT = "7c2ed4ad7d1a26df1bd7c8b4eaa6e15e0f0ff5f5"


def save_lag_llama_checkpoint(path) -> None:
    """A Lightning checkpoint with the published state_dict names and shapes, random values."""
    shapes = json.loads(LAG_LLAMA_PARAMS.read_text())
    generator = torch.Generator().manual_seed(0)
    state = {name: torch.randn(shape, generator=generator) for name, shape in shapes.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 3, "global_step": 150, "state_dict": state, "hyper_parameters": {"context_length": 32}}, path)


def write_timesfm_snapshot(folder, commit: str | None = COMMIT) -> None:
    """The file layout of google/timesfm-2.5-200m-flax (an Orbax checkpoint), random bytes, plus
    what `huggingface-cli download --local-dir` leaves beside it."""
    for name in (
        "_CHECKPOINT_METADATA",
        "_METADATA",
        "manifest.ocdbt",
        "d/0a1b2c3d",
        "ocdbt.process_0/manifest.ocdbt",
        "ocdbt.process_0/d/4e5f6a7b",
        "README.md",
        "config.json",
    ):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode() * 64)
    (folder / "config.json").write_text('{"model_type": "timesfm"}\n')  # import checks that JSON files parse
    if commit:
        metadata = folder / ".cache" / "huggingface" / "download" / "manifest.ocdbt.metadata"
        metadata.parent.mkdir(parents=True)
        metadata.write_text(f"{commit}\n0123abcd\n1764300000.0\n")
