"""The host's pretrained-weights cache: `orch weights pull` fills it once; jobs mount it read-only.

Layout: <weights_dir>/<model_dir>/weights.json (shared_schema.WeightsManifest) + the hub files.

Identity is checked, not asserted: each PUBLISHED entry declares what the project knows of the
published checkpoint (`facts`, a shared_schema.weights.ArchitectureFacts: config values, tensor
names and shapes or their count and parameter total, files that mean another architecture, sha256
where recorded). Whatever is installed is compared with them; files that differ are installed as
kind `custom` (never `pretrained <hub id>`), with the differences in weights.json's `identity`.
"""

import fnmatch
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click

from jobs.chronos2.published import FACTS as CHRONOS2_FACTS
from jobs.granite.published import PATCHTSTFM_FACTS, TTM_FACTS
from jobs.lagllama.published import FACTS as LAG_LLAMA_FACTS
from jobs.timer.published import FACTS as TIMER_FACTS
from orchestrator import paths
from orchestrator.console import print_table
from orchestrator.errors import UserError
from orchestrator.fsutil import atomic_write_text, sha256_file
from shared_schema import WeightsManifest
from shared_schema.checkpoints import UnreadableCheckpoint, read_layout
from shared_schema.weights import ArchitectureFacts

# Where files being installed come from: the hub itself (its commit vouches for them), an import
# (only the importer's word), or an import declared random-init.
WeightsOrigin = Literal["hub", "import", "random-init"]
NO_FACTS = ArchitectureFacts()  # an entry the project holds no facts about: installed files are not checked


@dataclass(frozen=True)
class PublishedWeights:
    model_dir: str  # folder name jobs look for under the weights mount
    hub_id: str
    patterns: tuple[str, ...]  # files to fetch from the hub repository
    required: tuple[str, ...]  # files a download must hold to be this checkpoint
    branch: str = "main"  # the hub branch `pull` takes by default (a repository may hold several checkpoints)
    facts: ArchitectureFacts = NO_FACTS  # what the published checkpoint is (see the module docstring)


PUBLISHED: dict[str, PublishedWeights] = {
    "lag-llama": PublishedWeights(
        "lagllama",
        "time-series-foundation-models/Lag-Llama",
        ("lag-llama.ckpt",),
        ("lag-llama.ckpt",),
        facts=LAG_LLAMA_FACTS,
    ),
    # An Orbax StandardCheckpointer folder at the repository root (see jobs/timesfm/weights.py).
    "timesfm": PublishedWeights(
        "timesfm",
        "google/timesfm-2.5-200m-flax",
        ("*",),
        ("_CHECKPOINT_METADATA", "_METADATA", "manifest.ocdbt"),
        # the Orbax tensors need JAX to read; a reduced architecture announces itself with this file
        facts=ArchitectureFacts(absent=("timesfm_arch.json",)),
    ),
    "timer": PublishedWeights(
        "timer",
        "thuml/timer-base-84m",
        ("config.json", "model.safetensors"),
        ("config.json", "model.safetensors"),
        facts=TIMER_FACTS,
    ),
    "chronos2": PublishedWeights(
        "chronos2",
        "amazon/chronos-2",
        ("config.json", "model.safetensors"),
        ("config.json", "model.safetensors"),
        facts=CHRONOS2_FACTS,
    ),
    "tirex2": PublishedWeights(
        "tirex2", "NX-AI/TiRex-2", ("config.json", "model.safetensors"), ("config.json", "model.safetensors")
    ),
    # TiRex 1.x: one Lightning checkpoint; its config is pickled inside, and the wheel fixes none of its
    # values (jobs/tirex/tirexcls_weights.py), so no facts: an import installs as custom, a pull as pretrained.
    "tirexcls": PublishedWeights("tirexcls", "NX-AI/TiRex", ("model.ckpt",), ("model.ckpt",)),
    "patchtstfm": PublishedWeights(
        "patchtstfm",
        "ibm-granite/granite-timeseries-patchtst-fm-r1",
        ("config.json", "model.safetensors"),
        ("config.json", "model.safetensors"),
        facts=PATCHTSTFM_FACTS,
    ),
    # TTM r2.1 for daily data, 90-day context and 30-day forecast: a branch of the r2 repository.
    "ttm": PublishedWeights(
        "ttm",
        "ibm-granite/granite-timeseries-ttm-r2",
        ("config.json", "model.safetensors"),
        ("config.json", "model.safetensors"),
        branch="90-30-ft-r2.1",
        facts=TTM_FACTS,
    ),
}
HUB_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def pull(name: str, revision: str, weights_dir: Path) -> WeightsManifest:
    """Download into a temporary folder, hash every file, then move into place atomically."""
    published = _published(name)
    try:
        from huggingface_hub import HfApi, snapshot_download
    except ImportError:
        raise UserError("`orch weights pull` needs the huggingface_hub package: pip install huggingface_hub") from None
    staging = _fresh_staging(weights_dir, "pull", published)
    try:
        commit = HfApi().model_info(published.hub_id, revision=revision).sha
        snapshot_download(published.hub_id, revision=commit, allow_patterns=list(published.patterns), local_dir=staging)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        reason = " ".join(str(exc).split())[:200]
        raise UserError(
            f"could not pull {published.hub_id}@{revision} from the Hugging Face hub ({type(exc).__name__}: {reason})"
        ) from None
    shutil.rmtree(staging / ".cache", ignore_errors=True)
    return _install(staging, published, commit, weights_dir, origin="hub")


def import_local(
    name: str, source: Path, revision: str | None, weights_dir: Path, *, random_init: bool = False
) -> WeightsManifest:
    """`pull` without the hub: copy a downloaded snapshot folder (or Lag-Llama's .ckpt file) into
    the cache, check it has the published layout, and install it as `pull` does. Unlike a pull, the
    files' origin is only the importer's word, so an entry the project holds no facts about installs
    as `custom`; `random_init` declares the files random-initialised (a test checkpoint): kind
    `random-init`, whatever they match."""
    published = _published(name)
    source = Path(source)
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    files = _files_to_import(published, source)
    missing = [required for required in published.required if required not in files]
    if missing:
        raise UserError(f"{source} is not a {published.hub_id} checkpoint: missing {', '.join(missing)}")
    for relative, path in files.items():
        if relative.endswith(".ckpt"):
            _check_torch_checkpoint(path)
        _check_file_type(relative, path)
    revision = revision or snapshot_revision(source)
    if revision is None and not random_init:  # random-init files come from no hub revision
        raise UserError(
            f"cannot tell which revision of {published.hub_id} {source} is; "
            "pass --revision (the hub commit, or a tag you downloaded)"
        )
    staging = _fresh_staging(weights_dir, "import", published)
    try:
        for relative, path in files.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, staging / relative)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise UserError(f"could not copy {source} into {weights_dir}: {exc.strerror} ({exc.filename})") from None
    return _install(staging, published, revision, weights_dir, origin="random-init" if random_init else "import")


def _published(name: str) -> PublishedWeights:
    if name not in PUBLISHED:
        raise UserError(f"unknown weights {name!r}; known: {', '.join(sorted(PUBLISHED))}")
    return PUBLISHED[name]


def _fresh_staging(weights_dir: Path, verb: str, published: PublishedWeights) -> Path:
    staging = weights_dir / f".{verb}-{published.model_dir}"
    try:
        weights_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as exc:
        raise UserError(
            f"weights cache {weights_dir} is not writable: {exc.strerror}; "
            "fix its permissions or point ORCH_WEIGHTS_DIR elsewhere"
        ) from None
    return staging


def identify(published: PublishedWeights, folder: Path, files: dict[str, str]) -> tuple[list[str], str]:
    """(differences from the published facts, the one-line identity weights.json records). Raises
    UserError when the checkpoint the facts describe cannot be read at all."""
    facts = published.facts
    if facts == NO_FACTS:
        return [], f"not checked: the project holds no facts about {published.hub_id}"
    config = None
    if facts.config_file is not None and facts.config_file in files:
        config = json.loads((folder / facts.config_file).read_bytes())
    tensors = None
    if facts.reads_tensors and facts.checkpoint_file in files:
        try:
            layout = read_layout(folder / facts.checkpoint_file)
        except UnreadableCheckpoint as exc:
            raise UserError(str(exc).replace(str(folder), published.model_dir)) from None
        foreign = facts.foreign_globals(layout.foreign_globals)
        if foreign:
            raise UserError(
                f"refused: the pickle of {facts.checkpoint_file} names {', '.join(foreign[:5])}, which the published "
                "checkpoint does not (loading it could run that code)"
            )
        tensors = layout.tensors
    differences = facts.differences(files=files, config=config if isinstance(config, dict) else None, tensors=tensors)
    if differences:
        return differences, f"not {published.hub_id}: " + "; ".join(differences)
    return [], f"matches {published.hub_id}: {facts.summary()}"


def _install(
    staging: Path, published: PublishedWeights, revision: str | None, weights_dir: Path, *, origin: WeightsOrigin
) -> WeightsManifest:
    """Hash every file, check identity (`identify`), write weights.json, and swap the folder into
    place (shared by pull and import). Files that are not the published checkpoint install as `custom`;
    so do imported files the project cannot check (no facts: only a pull from the hub vouches for
    them); files declared random-init install as `random-init`."""
    files = {p.relative_to(staging).as_posix(): sha256_file(p) for p in sorted(staging.rglob("*")) if p.is_file()}
    try:
        differences, identity = identify(published, staging, files)
    except UserError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if origin == "random-init":
        kind, identity = "random-init", f"declared random-init at import; {identity}"
    elif differences or (origin == "import" and published.facts == NO_FACTS):
        kind = "custom"
        if not differences:
            identity = f"unverified import: the project holds no facts about {published.hub_id} to check it against"
    else:
        kind = "pretrained"
    manifest = WeightsManifest(
        model=published.model_dir,
        kind=kind,
        hub_id=published.hub_id if kind == "pretrained" else None,
        revision=revision,
        files=files,
        identity=identity,
    )
    try:
        atomic_write_text(staging / "weights.json", manifest.model_dump_json(indent=2) + "\n")
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise UserError(f"could not write {staging / 'weights.json'}: {exc.strerror}") from None
    target = weights_dir / published.model_dir
    old = weights_dir / f".old-{published.model_dir}"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def _files_to_import(published: PublishedWeights, source: Path) -> dict[str, Path]:
    """Relative name -> file. A single file is the checkpoint itself (named as published); a folder
    contributes what `pull` would download (its patterns), without hub caches or git metadata."""
    if source.is_file():
        if len(published.required) != 1:
            raise UserError(
                f"{published.hub_id} is a folder of files: pass the downloaded snapshot folder, not {source.name}"
            )
        return {published.required[0]: source}
    found = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source).as_posix()
        if (
            not path.is_file()
            or relative.split("/")[0] in (".cache", ".git", ".gitattributes")
            or relative == "weights.json"
        ):
            continue
        if any(fnmatch.fnmatch(relative, pattern) for pattern in published.patterns):
            _check_link_stays_inside(source, path)
            found[relative] = path
    return found


def _check_link_stays_inside(source: Path, path: Path) -> None:
    """A symlink may point only into the download itself: the snapshot folder, or for a hub cache
    snapshot (`models--x/snapshots/<commit>/`, whose files link to `../../blobs/`) its repo folder."""
    if not path.is_symlink():
        return
    parts = source.resolve().parts
    root = Path(*parts[: parts.index("snapshots")]) if "snapshots" in parts[1:] else source.resolve()
    if not path.resolve().is_relative_to(root):
        raise UserError(
            f"{path} links to {path.resolve()}, outside the download {root}; import the downloaded files themselves"
        )


def _check_file_type(relative: str, path: Path) -> None:
    """What can be told without the model's stack: JSON files parse, safetensors files have their header."""
    if relative.endswith(".json"):
        try:
            json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError):
            raise UserError(f"{path}: not a JSON file") from None
    elif relative.endswith(".safetensors"):
        with open(path, "rb") as handle:
            head = handle.read(8)
            size = int.from_bytes(head, "little") if len(head) == 8 else 0
            try:
                header = json.loads(handle.read(size)) if 1 < size <= min(path.stat().st_size - 8, 100 << 20) else None
            except (ValueError, UnicodeDecodeError):
                header = None
        if not isinstance(header, dict):
            raise UserError(f"{path}: not a safetensors file (no valid header)")


def _check_torch_checkpoint(path: Path) -> None:
    """A torch/Lightning checkpoint is a zip holding a pickled dict with a state_dict (checked
    without torch: the host never imports it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickled = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            holds_state = bool(pickled) and b"state_dict" in archive.read(pickled[0])
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{path}: not a torch checkpoint ({exc})") from None
    if not holds_state:
        raise UserError(f"{path}: not a Lightning checkpoint (no state_dict inside)")


def snapshot_revision(source: Path) -> str | None:
    """The hub commit a download came from: the `snapshots/<commit>/` folder of the hub cache, or
    the commit recorded in `.cache/huggingface/download/*.metadata` by a `--local-dir` download."""
    parts = Path(source).resolve().parts
    for parent, part in zip(parts, parts[1:]):
        if parent == "snapshots" and HUB_COMMIT.match(part):
            return part
    folder = source if source.is_dir() else source.parent
    for metadata in sorted((folder / ".cache" / "huggingface" / "download").rglob("*.metadata")):
        first = metadata.read_text().splitlines()[:1]
        if first and HUB_COMMIT.match(first[0].strip()):
            return first[0].strip()
    return None


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
@click.option("--revision", help="hub branch, tag or commit (default: the model's published branch, usually main)")
def pull_command(name: str, revision: str | None) -> None:
    """Download published weights into the cache (needs the hub; recorded with revision and sha256)."""
    manifest = pull(name, revision or _published(name).branch, paths.weights_dir())
    click.echo(
        f"pulled {_described(name, manifest)}: {len(manifest.files)} file(s) into {paths.weights_dir() / manifest.model}"
    )


@weights_group.command("import")
@click.argument("name", type=click.Choice(sorted(PUBLISHED)))
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--revision", help="hub commit or tag the files came from (default: read from a hub snapshot's path)")
@click.option(
    "--random-init",
    is_flag=True,
    help="the files are random-initialised (a test checkpoint in the published layout): results say random-init",
)
def import_command(name: str, path: Path, revision: str | None, random_init: bool) -> None:
    """Install weights downloaded elsewhere: a hub snapshot folder, or Lag-Llama's lag-llama.ckpt."""
    manifest = import_local(name, path, revision, paths.weights_dir(), random_init=random_init)
    click.echo(
        f"imported {_described(name, manifest)}: {len(manifest.files)} file(s) into {paths.weights_dir() / manifest.model}"
    )


def _described(name: str, manifest: WeightsManifest) -> str:
    """`thuml/timer-base-84m@<rev>`, or for files that are not the published checkpoint what they are instead."""
    if manifest.kind == "pretrained":
        return f"{manifest.hub_id}@{manifest.revision}"
    if manifest.kind == "random-init":
        return f"{name} as random-init weights (never a finding)"
    return f"{name} as custom weights, not the published checkpoint ({manifest.identity})"


@weights_group.command("list")
def weights_list_command() -> None:
    """What the weights cache holds."""
    rows = []
    for name, entry in installed(paths.weights_dir()):
        if isinstance(entry, str):
            rows.append([name, entry, "-", "-", "-"])
        else:
            source = f"{entry.hub_id or '-'}@{entry.revision or '-'}"
            rows.append([name, entry.kind, source, entry.identity or "not recorded", str(len(entry.files))])
    print_table(f"Weights in {paths.weights_dir()}", ["name", "kind", "source", "identity", "files"], rows)
