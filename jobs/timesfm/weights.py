"""The TimesFM weights cache: `<weights_dir>/timesfm/` = weights.json + the published flax checkpoint.

The published checkpoint (Hugging Face `google/timesfm-2.5-200m-flax`) is an Orbax
`StandardCheckpointer` directory at the repository root (`manifest.ocdbt`, `_METADATA`,
`_CHECKPOINT_METADATA`, `d/...`, `ocdbt.process_0/...`). `orch weights pull timesfm` places that
snapshot in `<weights_dir>/timesfm/` and writes weights.json next to it; the job then loads the
folder with the package's own `TimesFM_2p5_200M_flax.from_pretrained(<folder>)`, the same
function that loads a Hugging Face snapshot. An optional `timesfm_arch.json` (listed in
weights.json like every other file) describes a reduced architecture of the same class; absent,
the published 200M definition is used.

Nothing here imports JAX, so a missing cache fails in well under a second.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, sha256_file, verified_weights
from shared_schema import WeightsSource
from shared_schema.weights import WeightsManifest

MODEL_NAME = "timesfm"
ARCH_FILE = "timesfm_arch.json"
PULL_COMMAND = "orch weights pull timesfm"


@dataclass(frozen=True)
class ResolvedWeights:
    folder: Path
    manifest: WeightsManifest
    source: WeightsSource
    arch: dict | None  # None: the published 200M definition


def checkpoint_digest(files: dict[str, str]) -> str:
    """One sha256 for a multi-file checkpoint: sha256 over sorted 'name sha256' lines."""
    lines = "".join(f"{name} {files[name]}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def list_checkpoint_files(folder: Path) -> dict[str, str]:
    """Every file under the folder except weights.json -> its sha256 (paths relative, '/'-separated)."""
    files = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and path.name != MANIFEST_FILE:
            files[path.relative_to(folder).as_posix()] = sha256_file(path)
    return files


def resolve_weights(weights_dir: Path | None) -> ResolvedWeights:
    """Find, validate and hash-check the cache; fail fast with the command that fills it."""
    folder, manifest = verified_weights(weights_dir, MODEL_NAME, "TimesFM", PULL_COMMAND)
    arch = None
    if ARCH_FILE in manifest.files:
        if manifest.kind == "pretrained":  # a reduced architecture is not the published 200M checkpoint
            raise JobError(
                f"{folder / MANIFEST_FILE} says pretrained {manifest.hub_id}, but {ARCH_FILE} describes another "
                f"architecture; reinstall with `{PULL_COMMAND}` or `orch weights import timesfm PATH`"
            )
        arch = json.loads((folder / ARCH_FILE).read_text())
    digest = checkpoint_digest(dict(manifest.files))
    if manifest.kind == "pretrained":
        source = WeightsSource(kind="pretrained", hub_id=manifest.hub_id, revision=manifest.revision, sha256=digest)
    else:
        source = WeightsSource(kind=manifest.kind, sha256=digest)
    return ResolvedWeights(folder=folder, manifest=manifest, source=source, arch=arch)


def write_manifest(folder: Path, kind: str, hub_id: str | None = None, revision: str | None = None) -> WeightsManifest:
    """Hash every checkpoint file in `folder` and write weights.json (atomically)."""
    manifest = WeightsManifest(
        model=MODEL_NAME, kind=kind, hub_id=hub_id, revision=revision, files=list_checkpoint_files(folder)
    )
    tmp = Path(folder) / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2))
    tmp.replace(Path(folder) / MANIFEST_FILE)
    return manifest
