"""`orch ingest`: a notebook's result.json + predictions.parquet, validated like a finished job.

The notebook's provenance is a claim. The host re-derives the run from today's registry and its
own dataset (`plan_run`, the planner's function), refuses any disagreement with a one-line reason,
then stores the run through `ResultStore.ingest` + `commit`, the path every executor's results take.
Hyper-parameters that differ from today's registry are treated as the notebook's `OVERRIDES`
(what `orch run --set` would record); every other spec field must match today's spec exactly.
"""

import dataclasses
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePath

from orchestrator import registry
from orchestrator.data.build import load_manifest
from orchestrator.environments import ENVIRONMENTS
from orchestrator.errors import UserError
from orchestrator.notebooks.identity import lock_id, notebook_env_fingerprint
from orchestrator.results import PREDICTIONS_FILE, RESULT_FILE, InvalidResult, RanElsewhere, ResultStore, load_result
from orchestrator.runs import PlannedRun, plan_run
from shared_schema import JobResult
from shared_schema import executors as executor_names

NOTEBOOK_FILES = (RESULT_FILE, PREDICTIONS_FILE)
# A result.json is kilobytes and the predictions of a daily series a few MiB: far above both, far
# below what would exhaust memory when a zip's member is read.
MAX_FILE_BYTES = 64 << 20
MISSING = object()


def unpack(path: Path, into: Path) -> None:
    """Copy the two files from a folder or a zip (at its root or in one folder) into `into`.

    Only those two files are read, each by its base name into `into` (a zip's member paths never
    become paths here), neither may be a symlink, and each must fit MAX_FILE_BYTES.
    """
    if path.is_dir():
        for name in NOTEBOOK_FILES:
            if (path / name).is_symlink():
                raise UserError(f"{path / name}: a symlink; ingest reads the notebook's own files, not links")
            if not (path / name).is_file():
                raise UserError(f"{path}: {name} missing (expected the notebook's {' + '.join(NOTEBOOK_FILES)})")
            if (path / name).stat().st_size > MAX_FILE_BYTES:
                raise UserError(
                    f"{path / name}: {(path / name).stat().st_size} bytes, more than a notebook writes "
                    f"({MAX_FILE_BYTES >> 20} MiB at most)"
                )
            shutil.copyfile(path / name, into / name)
        return
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: neither a folder nor a zip of {' + '.join(NOTEBOOK_FILES)}")
    try:
        with zipfile.ZipFile(path) as archive:
            for name in NOTEBOOK_FILES:
                (into / name).write_bytes(archive.read(zip_member(path, archive, name)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise UserError(f"{path}: a damaged zip ({' '.join(str(exc).split())[:150]})") from None


def zip_member(path: Path, archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """The one member called `name` (at any depth): a regular file of a plausible size."""
    found = [
        info
        for info in archive.infolist()
        if not info.is_dir() and PurePath(info.filename.replace("\\", "/")).name == name
    ]
    if not found:
        raise UserError(f"{path}: the zip holds no {name}")
    if len(found) > 1:
        raise UserError(
            f"{path}: the zip holds {len(found)} files named {name} "
            f"({', '.join(info.filename for info in found[:3])}); expected one"
        )
    info = found[0]
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UserError(f"{path}: {info.filename} is a symlink; ingest reads the notebook's own files, not links")
    if info.file_size > MAX_FILE_BYTES:
        raise UserError(
            f"{path}: {info.filename} unpacks to {info.file_size} bytes, more than a notebook writes "
            f"({MAX_FILE_BYTES >> 20} MiB at most)"
        )
    return info


def planned_run(result: JobResult, data_dir: Path) -> PlannedRun:
    """Today's run for what the notebook claims to have run; refuses what today would not ask."""
    claim, spec = result.provenance, result.spec
    experiment = registry.BY_ID.get(spec.id)
    if experiment is None or experiment.slug != spec.slug:
        raise UserError(f"stale spec: experiment {spec.id} {spec.slug} is not in today's registry")
    manifest = load_manifest(data_dir, spec.dataset.name)
    if manifest.sha256 != spec.dataset.sha256 or manifest.sha256 != claim.dataset_sha256:
        raise UserError(
            f"other data: the result is for dataset {spec.dataset.name} sha256 "
            f"{claim.dataset_sha256[:12]}, the local one is {manifest.sha256[:12]}"
        )
    defaults = experiment.params(spec.profile)
    overrides = {k: v for k, v in spec.hyperparameters.items() if defaults.get(k, MISSING) != v}
    env = ENVIRONMENTS[experiment.env]
    fingerprint = notebook_env_fingerprint(lock_id(env), result.environment.python, result.environment.platform)
    run = plan_run(experiment, manifest, spec.profile, spec.seed, env_fingerprint=fingerprint, overrides=overrides)
    run = dataclasses.replace(run, key=dataclasses.replace(run.key, weights_sha256=claim.weights_sha256))
    if spec != run.spec:
        fields = [name for name in type(spec).model_fields if getattr(spec, name) != getattr(run.spec, name)]
        raise UserError(
            f"stale spec: today's registry asks {spec.slug} for other {', '.join(fields)}; regenerate "
            "the notebook with `orch notebook` and run it again"
        )
    if claim.code_sha256 != run.key.code_sha256:
        raise UserError(
            f"stale code: the notebook ran job code {claim.code_sha256[:12]}, the repository's "
            f"{env.name} code is {run.key.code_sha256[:12]}; regenerate the notebook"
        )
    if claim.env_fingerprint != fingerprint:
        raise UserError(
            f"stale environment: the notebook installed {claim.env_fingerprint}, today's pins give "
            f"{fingerprint}; regenerate the notebook"
        )
    if experiment.weights and claim.weights_sha256 is None:
        raise UserError(f"{spec.slug} needs pretrained weights but the result names no weights.json")
    if claim.run_key != run.key.run_key:
        raise UserError(
            f"run key {claim.run_key[:12]} does not match the host's {run.key.run_key[:12]} for the "
            "same parts; regenerate the notebook with this version of orch"
        )
    return run


def ingest(path: Path, data_dir: Path, store: ResultStore) -> tuple[Path, JobResult]:
    """Validate and store one notebook run; nothing is stored unless every check passes."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    with tempfile.TemporaryDirectory() as tmp:
        received = Path(tmp)
        unpack(path, received)
        try:
            result = load_result(received)
        except InvalidResult as exc:
            raise UserError(f"invalid result: {exc}") from None
        if result.provenance is None or result.provenance.executor != executor_names.NOTEBOOK:
            raise UserError(f"{path}: not a notebook's result (no provenance with executor 'notebook')")
        run = planned_run(result, data_dir)
        claim = result.provenance
        staging = store.new_staging(run)
        try:
            shutil.copyfile(received / PREDICTIONS_FILE, staging / PREDICTIONS_FILE)
            unstamped = result.model_copy(update={"provenance": None})
            (staging / RESULT_FILE).write_text(unstamped.model_dump_json(indent=2) + "\n")
            stamped = store.ingest(
                staging,
                run,
                executor=executor_names.NOTEBOOK,
                started=claim.started_at,
                elsewhere=RanElsewhere(
                    claim.host_platform, claim.started_at, claim.finished_at, claim.git_commit, claim.git_dirty
                ),
            )
            return store.commit(staging, run), stamped
        except InvalidResult as exc:
            store.discard(staging)
            raise UserError(f"invalid result: {exc}") from None
        except BaseException:
            store.discard(staging)
            raise
