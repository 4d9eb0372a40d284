"""The one commit pipeline, shared by the host (`orch`: orchestrator/results.py and every executor)
and the host-less compose wrapper (compose/run.py, inside an image): the results folder's layout,
failure records, provenance stamping and the commit of a staging folder into place.

Layout under the results root:
  <slug>-s<seed>-<key12>/        a finished, validated run
  _failed/<folder>-<utc>/        a failed attempt (failure.json, job.log): never touches a finished run
  .staging/<name>/               a run in progress; renamed into place only after validation

Commits are serialised by an exclusive flock on the `.staging` folder itself, so two processes
(two `orch run`s, or `orch run` and `docker compose up`) committing the same run take turns: the
later one's result stays. Standard library + pydantic.
"""

import ctypes
import datetime as dt
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared_schema.files import atomic_write_text, copy_own_file, refuse_link
from shared_schema.identity import KeyParts
from shared_schema.result import JobResult, Provenance

RESULT_FILE = "result.json"
PREDICTIONS_FILE = "predictions.parquet"
LOG_FILE = "job.log"
SPEC_FILE = "spec.json"
FAILURE_FILE = "failure.json"
FAILED_DIR = "_failed"
STAGING_DIR = ".staging"
TRASH_PREFIX = "replaced-"  # a result being replaced by a commit

FailureKind = Literal["crash", "invalid-result", "timeout", "oom", "interrupted", "environment"]


class FailureRecord(BaseModel):
    """_failed/<folder>-<utc>/failure.json: why one attempt at a run did not finish."""

    model_config = ConfigDict(extra="forbid")

    slug: str
    seed: int
    run_key: str
    spec_sha256: str
    kind: FailureKind
    reason: str
    finished_at: dt.datetime


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_folders(folder: Path) -> None:
    """The plain way to create a record's folder (compose/run.py passes one that also chowns)."""
    folder.mkdir(parents=True, exist_ok=True)


def write_failure_record(
    results_root: Path,
    *,
    run_folder: str,
    spec,
    key: KeyParts,
    kind: FailureKind,
    reason: str,
    log: Path | None,
    make_folder: Callable[[Path], None] = make_folders,
) -> Path:
    """failure.json first (it is small and it is the record), then the log if there is room.
    Raises OSError, leaving no empty folder behind, when even failure.json cannot be written.
    `run_folder` is the run's folder name, `spec` its ExperimentSpec."""
    now = utc_now()
    folder = Path(results_root) / FAILED_DIR / f"{run_folder}-{now:%Y%m%dT%H%M%S%f}"
    record = FailureRecord(
        slug=spec.slug,
        seed=spec.seed,
        run_key=key.run_key,
        spec_sha256=key.spec_sha256,
        kind=kind,
        reason=reason,
        finished_at=now,
    )
    refuse_link(Path(results_root) / FAILED_DIR)
    try:
        make_folder(folder)
        atomic_write_text(folder / FAILURE_FILE, record.model_dump_json(indent=2) + "\n")
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if log is not None and os.path.lexists(log):
        try:
            copy_own_file(log, folder / LOG_FILE)  # a link the job planted is not followed
        except OSError as exc:
            (folder / LOG_FILE).unlink(missing_ok=True)  # a cut-off log would read as the whole story
            if exc.errno == errno.ELOOP:
                with suppress(OSError):
                    atomic_write_text(folder / LOG_FILE, f"[orch] {log} was a symbolic link; not followed\n")
    return folder


def stamp_provenance(
    staging: Path,
    result: JobResult,
    key: KeyParts,
    *,
    executor: str,
    git_commit: str | None,
    git_dirty: bool | None,
    host_platform: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    wall_seconds: float,
    image_id: str | None = None,
    node: str | None = None,
    env_differences: dict[str, str] | None = None,
) -> JobResult:
    """Add what the job cannot know to a validated result and write it back to the staging folder.
    The optional facts are the ones only some executors have (an image, a cluster node, an
    existing interpreter's differences from the pins)."""
    stamped = result.model_copy(
        update={
            "provenance": Provenance(
                run_key=key.run_key,
                spec_sha256=key.spec_sha256,
                dataset_sha256=key.dataset_sha256,
                env_fingerprint=key.env_fingerprint,
                code_sha256=key.code_sha256,
                weights_sha256=key.weights_sha256,
                git_commit=git_commit,
                git_dirty=git_dirty,
                executor=executor,
                image_id=image_id,
                node=node,
                env_differences=env_differences,
                host_platform=host_platform,
                wall_seconds=wall_seconds,
                started_at=started_at,
                finished_at=finished_at,
            )
        }
    )
    JobResult.model_validate(stamped.model_dump())
    atomic_write_text(Path(staging) / RESULT_FILE, stamped.model_dump_json(indent=2) + "\n")
    return stamped


@contextmanager
def commit_lock(results_root: Path) -> Iterator[None]:
    """Exclusive flock on the `.staging` folder: one process at a time creates, commits or sweeps
    staging folders. Released by the kernel if the holder dies."""
    staging_root = Path(results_root) / STAGING_DIR
    refuse_link(staging_root)
    staging_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(staging_root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


RENAME_EXCHANGE = 2  # renameat2(2) flag: swap two paths atomically
_AT_FDCWD = -100


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE). False where the
    C library or the file system cannot (then nothing happened); OSError for any other failure."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def commit_staging(results_root: Path, staging: Path, final: Path) -> None:
    """Move a validated staging folder to `final`, under `commit_lock` (the exists() check and the
    renames do not race another committer). No window loses a finished result:

    - no result there yet: one rename;
    - replacing one: the new result is swapped into place in one atomic step (`exchange`) before the
      old one leaves, as `replaced-<final>-<id>` trash;
    - where no atomic swap exists: the old result is first renamed to that trash name, which
      `settle_replaced` (the sweep) renames back if the commit died before the new one was in.
    """
    with commit_lock(results_root):
        if not os.path.lexists(final):
            staging.rename(final)
            return
        trash = Path(results_root) / STAGING_DIR / f"{TRASH_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
        if exchange(staging, final):
            staging.rename(trash)  # the old result, now at the staging path
        else:
            final.rename(trash)
            try:
                staging.rename(final)
            except OSError:
                trash.rename(final)  # the earlier result stays in place
                raise
        shutil.rmtree(trash, ignore_errors=True)


def replaced_result_of(results_root: Path, trash: Path) -> Path:
    """The run folder a `replaced-<final>-<id8>` trash folder was set aside from."""
    return Path(results_root) / trash.name.removeprefix(TRASH_PREFIX)[: -len("-0123abcd")]


def settle_replaced(results_root: Path, trash: Path) -> str:
    """What a commit that died left as trash: removed where its run folder is in place (the new
    result went in), renamed back where it is not (the commit died between its renames). Call under
    `commit_lock`. Returns "removed" or "restored"."""
    final = replaced_result_of(results_root, trash)
    if os.path.lexists(final):
        shutil.rmtree(trash, ignore_errors=True)
        return "removed"
    trash.rename(final)
    return "restored"
