"""The results folder: finished runs, failure records, staging, and host-side validation.

The layout, failure records, provenance stamping and the commit itself are the shared pipeline in
shared_schema/commit.py (compose/run.py uses the same); orch's staging folders are
`.staging/orch-<folder>-<uuid8>/`.

Several `orch` processes may share one results folder. The `.staging` folder's own flock
(`commit_lock`) serialises the short steps that create, commit and sweep staging folders; each staging folder is
flocked by the process that owns it for as long as it exists, so a folder nobody holds was
abandoned (its `orch` was killed) and the next run removes it. Only `orch-*` folders and the
`replaced-*` trash of a commit are swept (a result a killed commit had set aside is restored, not
removed): `docker compose up` stages its own, unlocked, folders.
"""

import datetime as dt
import fcntl
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.fsutil import atomic_write_text, describe_os_error
from orchestrator.provenance import git_state, host_platform
from orchestrator.run_folder import InvalidResult, is_run_folder, read_job_outputs, read_run_folder, run_folders
from orchestrator.runs import PlannedRun
from shared_schema import JobResult
from shared_schema.base import one_line
from shared_schema.commit import (
    FAILED_DIR,
    FAILURE_FILE,
    LOG_FILE,
    PREDICTIONS_FILE,
    RESULT_FILE,
    SPEC_FILE,
    STAGING_DIR,
    TRASH_PREFIX,
    FailureKind,
    FailureRecord,
    commit_lock,
    commit_staging,
    replaced_result_of,
    settle_replaced,
    stamp_provenance,
    utc_now,
    write_failure_record,
)
from shared_schema.files import read_own_file
from shared_schema.outputs import check_answers

__all__ = [
    "LOG_FILE",
    "PREDICTIONS_FILE",
    "RESULT_FILE",
    "SPEC_FILE",
    "FailureKind",
    "FailureRecord",
    "InvalidResult",
    "RanElsewhere",
    "ResultStore",
    "StoredResult",
    "UnreadableFailure",
    "describe_os_error",
    "is_run_folder",
    "load_finished",
    "load_result",
    "utc_now",
]

STAGING_PREFIX = "orch-"  # staging folders of orch runs (flocked while in use)


@dataclass(frozen=True)
class UnreadableFailure:
    """A failure.json that does not parse as a FailureRecord: listed, never silently dropped.
    Named like a record's fields so `orch status` shows it as one row among the failures."""

    folder: Path
    error: str
    finished_at: dt.datetime  # the file's modification time

    kind = "unreadable record"

    @property
    def slug(self) -> str:
        return self.folder.name

    @property
    def seed(self) -> str:
        return "-"

    @property
    def reason(self) -> str:
        return f"{self.folder / FAILURE_FILE}: {self.error}"


@dataclass(frozen=True)
class RanElsewhere:
    """What the host cannot observe of a run it did not start (a notebook): its clock, machine, checkout."""

    host_platform: str
    started_at: dt.datetime
    finished_at: dt.datetime
    git_commit: str | None
    git_dirty: bool | None


@dataclass(frozen=True)
class StoredResult:
    folder: Path
    result: JobResult


def load_result(path: Path) -> JobResult:
    """A folder of job outputs (or its result.json) checked as `run_folder.read_job_outputs` does; raises InvalidResult."""
    return read_job_outputs(path).result


def load_finished(path: Path) -> JobResult:
    """A committed run checked as `run_folder.read_run_folder` does; raises InvalidResult."""
    return read_run_folder(path).result


class ResultStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"results folder {self.root} is a file, not a folder (check ORCH_RESULTS_DIR)")
        self._finished: list[StoredResult] | None = None  # memo; reset when a run is committed
        self._held: dict[Path, int] = {}  # staging folder -> open fd holding its flock
        self._held_lock = threading.Lock()

    # -- finished runs -------------------------------------------------------------------------
    def final_dir(self, run: PlannedRun) -> Path:
        return self.root / run.folder_name

    def lookup(self, run: PlannedRun) -> tuple[JobResult | None, str | None]:
        """(the valid finished result with exactly this run key, None), or (None, why the folder
        that has this run's name is not one), or (None, None) when there is no such folder."""
        folder = self.final_dir(run)
        if not folder.is_dir():
            return None, None
        try:
            result = load_finished(folder)
        except InvalidResult as exc:
            return None, exc.in_folder
        if result.provenance.run_key != run.key.run_key:
            return None, "its run key differs from this run's"
        return result, None

    def finished(self) -> list[StoredResult]:
        """Every valid finished run, oldest first. Invalid folders are skipped (`orch validate` lists them)."""
        if self._finished is not None:
            return self._finished
        found = []
        for folder in run_folders(self.root):
            try:
                found.append(StoredResult(folder, load_finished(folder)))
            except InvalidResult:
                continue
        self._finished = sorted(
            found, key=lambda s: s.result.provenance.finished_at if s.result.provenance else utc_now()
        )
        return self._finished

    def latest_by_slug(self) -> dict[str, StoredResult]:
        return {s.result.spec.slug: s for s in self.finished()}

    # -- failures --------------------------------------------------------------------------------
    def record_failure(self, run: PlannedRun, kind: FailureKind, reason: str, log: Path | None) -> Path:
        """See shared_schema.commit.write_failure_record: raises OSError when even failure.json cannot be written."""
        return write_failure_record(
            self.root, run_folder=run.folder_name, spec=run.spec, key=run.key, kind=kind, reason=reason, log=log
        )

    def failures(self) -> list["FailureRecord | UnreadableFailure"]:
        """Every failure record, oldest first; one that cannot be read (it does not parse, or it or its
        folder is a symbolic link, which is never followed) is listed as UnreadableFailure."""
        base = self.root / FAILED_DIR
        if base.is_symlink():
            return [
                UnreadableFailure(
                    base, f"{FAILED_DIR} is a symbolic link out of the results folder; not followed", utc_now()
                )
            ]
        records: list[FailureRecord | UnreadableFailure] = []
        for folder in sorted(base.iterdir()) if base.is_dir() else []:
            file = folder / FAILURE_FILE
            if not folder.is_symlink() and not folder.is_dir():
                continue
            try:
                if folder.is_symlink():
                    raise ValueError("the record's folder is a symbolic link; not followed")
                records.append(FailureRecord.model_validate_json(read_own_file(file)))
            except FileNotFoundError:
                continue  # a record being written, or a folder that is no record
            except (OSError, ValueError) as exc:
                modified = dt.datetime.fromtimestamp(folder.lstat().st_mtime, dt.UTC)
                records.append(UnreadableFailure(folder, one_line(exc)[:200], modified))
        return sorted(records, key=lambda r: r.finished_at)

    # -- staging and commit ----------------------------------------------------------------------
    @property
    def staging_root(self) -> Path:
        return self.root / STAGING_DIR

    def check_writable(self) -> None:
        """Create `.staging` and a probe file in it; raises OSError if the results folder is read-only."""
        self.staging_root.mkdir(parents=True, exist_ok=True)
        probe = self.staging_root / f".probe-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()

    def new_staging(self, run: PlannedRun) -> Path:
        """A fresh staging folder holding spec.json, flocked by this process until commit/discard.
        On any error nothing is left behind."""
        folder = self.staging_root / f"{STAGING_PREFIX}{run.folder_name}-{uuid.uuid4().hex[:8]}"
        with commit_lock(self.root):
            folder.mkdir()
            fd = os.open(folder, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocking: `orch status` may be probing it for a moment
        with self._held_lock:
            self._held[folder] = fd
        try:
            atomic_write_text(folder / SPEC_FILE, run.spec.model_dump_json(indent=2) + "\n")
        except BaseException:
            self.discard(folder)
            raise
        return folder

    def _release(self, staging: Path) -> None:
        with self._held_lock:
            fd = self._held.pop(staging, None)
        if fd is not None:
            os.close(fd)

    def abandoned(self) -> list[Path]:
        """orch's staging folders (and commit trash) that no live process holds: their orch was killed."""
        if not self.staging_root.is_dir():
            return []
        found = []
        for entry in sorted(self.staging_root.iterdir()):
            if not entry.is_dir() or not entry.name.startswith((STAGING_PREFIX, TRASH_PREFIX)):
                continue
            fd = os.open(entry, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                found.append(entry)
            except BlockingIOError:
                continue  # an orch is running this job
            finally:
                os.close(fd)
        return found

    def sweep_abandoned(self) -> list[str]:
        """Under the staging lock, clear what `abandoned` finds: a staging folder is removed; a
        result a killed commit had set aside is restored if its run folder is missing (see
        shared_schema.commit.settle_replaced), else removed. Returns what was done, one entry each."""
        if not self.staging_root.is_dir():
            return []
        done = []
        with commit_lock(self.root):
            for entry in self.abandoned():
                if entry.name.startswith(TRASH_PREFIX):
                    if settle_replaced(self.root, entry) == "restored":
                        done.append(
                            f"{entry.name} (a replaced result, restored to {replaced_result_of(self.root, entry).name})"
                        )
                        continue
                else:
                    shutil.rmtree(entry, ignore_errors=True)
                done.append(entry.name)
        return done

    def ingest(
        self,
        staging: Path,
        run: PlannedRun,
        *,
        executor: str,
        started: dt.datetime,
        image_id: str | None = None,
        env_differences: dict[str, str] | None = None,
        elsewhere: RanElsewhere | None = None,
        node: str | None = None,
    ) -> JobResult:
        """Validate the job's outputs, check they answer the spec we sent, add provenance."""
        result = load_result(staging)
        try:
            check_answers(result, run.spec)
        except ValueError as exc:
            raise InvalidResult(str(exc)) from exc
        finished = utc_now()
        commit, dirty = git_state()
        platform = host_platform()
        if elsewhere is not None:
            started, finished, platform = elsewhere.started_at, elsewhere.finished_at, elsewhere.host_platform
            commit, dirty = elsewhere.git_commit, elsewhere.git_dirty
        return stamp_provenance(
            staging,
            result,
            run.key,
            executor=executor,
            git_commit=commit,
            git_dirty=dirty,
            host_platform=platform,
            started_at=started,
            finished_at=finished,
            wall_seconds=(finished - started).total_seconds(),
            image_id=image_id,
            node=node,
            env_differences=env_differences,
        )

    def commit(self, staging: Path, run: PlannedRun) -> Path:
        """Move a validated staging folder into place; a previous result is replaced only now.
        Under the staging lock, so two processes committing the same run take turns (the later
        one's result stays) instead of racing between the exists() check and the renames."""
        final = self.final_dir(run)
        self._finished = None
        commit_staging(self.root, staging, final)
        self._release(staging)
        return final

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)
        self._release(staging)


# -- the notebook API (implemented in orchestrator.export, imported when called: it loads pandas) --
def table(results_dir: Path | str | None = None):
    """Every valid run as a pandas DataFrame, one row per run (seed x fold). See orchestrator.export."""
    from orchestrator import export, paths

    return export.runs_frame(export.read_valid_runs(Path(results_dir or paths.results_dir())))


def predictions(results_dir: Path | str | None = None):
    """Every prediction of every valid run, long format (run keys, date, split, y_true, p)."""
    from orchestrator import export, paths

    return export.predictions_frame(export.read_valid_runs(Path(results_dir or paths.results_dir())))
