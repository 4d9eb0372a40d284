"""Reading the read-only weights mount: `<weights_dir>/<model_dir>/weights.json` plus its files.

Every model family that needs pretrained weights goes through `verified_weights`, so a missing,
incomplete or corrupt cache fails the same way: fast, naming the `orch weights pull` command.
`weights_source` is what a result records of them (shared_schema.WeightsSource).
"""

from dataclasses import dataclass
from pathlib import Path

from jobs.common.errors import JobError
from shared_schema import WeightsManifest, WeightsSource
from shared_schema.base import read_json_model
from shared_schema.files import sha256_file

MANIFEST_FILE = "weights.json"


@dataclass(frozen=True)
class ResolvedWeights:
    """A checked weights folder and what a result records of it."""

    folder: Path
    source: WeightsSource


def verified_weights(
    weights_dir: Path | None, model_dir: str, label: str, pull_command: str, required: tuple[str, ...] = ()
) -> tuple[Path, WeightsManifest]:
    """The model's folder and its manifest, every listed file present with the listed sha256, and
    every `required` file among them."""
    if weights_dir is None:
        raise JobError(f"{label} weights missing: no weights folder was mounted; run `{pull_command}` on the host")
    folder = Path(weights_dir) / model_dir
    manifest_file = folder / MANIFEST_FILE
    if not manifest_file.is_file():
        raise JobError(f"{label} weights missing: {manifest_file} not found; run `{pull_command}` on the host")
    try:
        manifest = read_json_model(WeightsManifest, manifest_file)
    except ValueError as exc:
        raise JobError(f"{manifest_file}: invalid weights manifest ({exc}); run `{pull_command}`") from exc
    if manifest.model != model_dir:
        raise JobError(f"{manifest_file} is for model {manifest.model!r}, not {model_dir!r}")
    for name, expected in manifest.files.items():
        file = folder / name
        if not file.is_file():
            raise JobError(f"{label} weights incomplete: {file} missing; run `{pull_command}` on the host")
        actual = sha256_file(file)
        if actual != expected:
            raise JobError(
                f"{label} weights corrupt: {file} sha256 {actual[:12]} does not match weights.json "
                f"({expected[:12]}); run `{pull_command}`"
            )
    for name in required:
        if name not in manifest.files:
            raise JobError(f"{manifest_file} lists no {name}; run `{pull_command}`")
    return folder, manifest


def weights_source(manifest: WeightsManifest, weights_file: str) -> WeightsSource:
    """The result's record of the weights: the manifest's kind, hub id and revision, and the sha256 of
    the file holding the tensors."""
    return WeightsSource(
        kind=manifest.kind, hub_id=manifest.hub_id, revision=manifest.revision, sha256=manifest.files[weights_file]
    )
