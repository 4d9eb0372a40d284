"""The host's pretrained-weights cache: `orch weights pull` fills it once; jobs mount it read-only.

Layout: <weights_dir>/<model_dir>/weights.json (shared_schema.WeightsManifest) + the hub files.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import click

from orchestrator import paths
from orchestrator.console import print_table
from orchestrator.errors import UserError
from orchestrator.fsutil import atomic_write_text, sha256_file
from shared_schema import WeightsManifest


@dataclass(frozen=True)
class PublishedWeights:
    model_dir: str  # folder name jobs look for under the weights mount
    hub_id: str
    patterns: tuple[str, ...]  # files to fetch from the hub repository


PUBLISHED: dict[str, PublishedWeights] = {
    "lag-llama": PublishedWeights("lagllama", "time-series-foundation-models/Lag-Llama", ("lag-llama.ckpt",)),
    "timesfm": PublishedWeights("timesfm", "google/timesfm-2.5-200m-flax", ("*",)),
    "timer": PublishedWeights("timer", "thuml/timer-base-84m", ("config.json", "model.safetensors")),
}


def pull(name: str, revision: str, weights_dir: Path) -> WeightsManifest:
    """Download into a temporary folder, hash every file, then move into place atomically."""
    if name not in PUBLISHED:
        raise UserError(f"unknown weights {name!r}; known: {', '.join(sorted(PUBLISHED))}")
    published = PUBLISHED[name]
    try:
        from huggingface_hub import HfApi, snapshot_download
    except ImportError:
        raise UserError("`orch weights pull` needs the huggingface_hub package: pip install huggingface_hub") from None
    weights_dir.mkdir(parents=True, exist_ok=True)
    staging = weights_dir / f".pull-{published.model_dir}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        commit = HfApi().model_info(published.hub_id, revision=revision).sha
        snapshot_download(published.hub_id, revision=commit, allow_patterns=list(published.patterns), local_dir=staging)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        reason = " ".join(str(exc).split())[:200]
        raise UserError(f"could not pull {published.hub_id}@{revision} from the Hugging Face hub ({type(exc).__name__}: {reason})") from None
    shutil.rmtree(staging / ".cache", ignore_errors=True)
    files = {str(p.relative_to(staging)): sha256_file(p) for p in sorted(staging.rglob("*")) if p.is_file()}
    manifest = WeightsManifest(model=published.model_dir, kind="pretrained", hub_id=published.hub_id,
                               revision=commit, files=files)
    atomic_write_text(staging / "weights.json", manifest.model_dump_json(indent=2) + "\n")
    target = weights_dir / published.model_dir
    old = weights_dir / f".old-{published.model_dir}"
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def installed(weights_dir: Path) -> list[tuple[str, WeightsManifest | str]]:
    rows = []
    for name, published in PUBLISHED.items():
        file = weights_dir / published.model_dir / "weights.json"
        if not file.is_file():
            rows.append((name, "absent"))
            continue
        try:
            rows.append((name, WeightsManifest.model_validate_json(file.read_text())))
        except Exception as exc:
            rows.append((name, f"invalid weights.json: {' '.join(str(exc).split())[:100]}"))
    return rows


@click.group("weights")
def weights_group() -> None:
    """Pretrained weights cache (mounted read-only into jobs)."""


@weights_group.command("pull")
@click.argument("name", type=click.Choice(sorted(PUBLISHED)))
@click.option("--revision", default="main", show_default=True, help="hub branch, tag or commit")
def pull_command(name: str, revision: str) -> None:
    """Download published weights into the cache (needs the hub; recorded with revision and sha256)."""
    manifest = pull(name, revision, paths.weights_dir())
    click.echo(f"pulled {manifest.hub_id}@{manifest.revision}: {len(manifest.files)} file(s) into "
               f"{paths.weights_dir() / manifest.model}")


@weights_group.command("list")
def list_command() -> None:
    """What the weights cache holds."""
    rows = []
    for name, entry in installed(paths.weights_dir()):
        if isinstance(entry, str):
            rows.append([name, entry, "-", "-"])
        else:
            rows.append([name, entry.kind, f"{entry.hub_id or '-'}@{entry.revision or '-'}", str(len(entry.files))])
    print_table(f"Weights in {paths.weights_dir()}", ["name", "kind", "source", "files"], rows)
