"""The granite-tsfm weights cache: `<weights_dir>/<model_dir>/` = weights.json + the published
`config.json` and `model.safetensors` of a Hugging Face checkpoint (`orch weights pull NAME`).

Both models load through transformers' `from_pretrained(<folder>)`, the call that reads a hub
download, so a random-init checkpoint written with `save_pretrained` (tests: tiny configs built from
the package's own config classes) exercises the published code path.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from jobs.common.errors import JobError
from jobs.common.weights import MANIFEST_FILE, ResolvedWeights, sha256_file, verified_weights, weights_source
from jobs.granite.published import CONFIG_FILE, PATCHTSTFM_FACTS, TTM_FACTS, WEIGHTS_FILE
from shared_schema import WeightsManifest
from shared_schema.weights import ArchitectureFacts


@dataclass(frozen=True)
class Checkpoint:
    """One published granite checkpoint: its cache folder, label and the command that fills it."""

    model_dir: str
    label: str
    facts: ArchitectureFacts  # jobs/granite/published.py

    @property
    def pull_command(self) -> str:
        return f"orch weights pull {self.model_dir}"


PATCHTSTFM = Checkpoint("patchtstfm", "PatchTST-FM", PATCHTSTFM_FACTS)
TTM = Checkpoint("ttm", "TTM", TTM_FACTS)


def resolve_weights(weights_dir: Path | None, checkpoint: Checkpoint) -> ResolvedWeights:
    """The cache's config and safetensors, hash-checked; fails fast (before torch loads anything)."""
    folder, manifest = verified_weights(
        weights_dir, checkpoint.model_dir, checkpoint.label, checkpoint.pull_command, (CONFIG_FILE, WEIGHTS_FILE)
    )
    if manifest.kind == "pretrained":
        check_published(folder, manifest, checkpoint)
    return ResolvedWeights(folder, weights_source(manifest, WEIGHTS_FILE))


def check_published(folder: Path, manifest: WeightsManifest, checkpoint: Checkpoint) -> None:
    """Weights that weights.json calls the published checkpoint must match what is known of it."""
    try:
        config = json.loads((folder / CONFIG_FILE).read_bytes())
    except (ValueError, OSError) as exc:
        raise JobError(f"{folder}: cannot compare with the published checkpoint ({exc})") from None
    differences = checkpoint.facts.differences(files=manifest.files, config=config)
    if differences:
        raise JobError(
            f"{folder / MANIFEST_FILE} says pretrained {manifest.hub_id}, but these are not its weights: "
            f"{'; '.join(differences)}; reinstall with `{checkpoint.pull_command}`"
        )


def load_pretrained(model_class, resolved: ResolvedWeights, **overrides):
    """`model_class.from_pretrained(folder, **overrides)` in float32; every checkpoint tensor must fit."""
    try:
        return model_class.from_pretrained(str(resolved.folder), **overrides).float()
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        raise JobError(
            f"{resolved.folder}: not a loadable {model_class.__name__} checkpoint: {' '.join(str(exc).split())[:300]}"
        ) from exc


def write_random_init(weights_dir: Path, checkpoint: Checkpoint, model) -> Path:
    """<weights_dir>/<model_dir>/ holding `model` (random-initialised by the caller) saved with
    save_pretrained, and its weights.json (kind 'random-init')."""
    folder = Path(weights_dir) / checkpoint.model_dir
    model.save_pretrained(str(folder))
    files = {name: sha256_file(folder / name) for name in (CONFIG_FILE, WEIGHTS_FILE)}
    manifest = WeightsManifest(model=checkpoint.model_dir, kind="random-init", files=files)
    (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n")
    return folder
