"""The results folder: finished runs, failure records, staging, and host-side validation.

Layout under the results root:
  <slug>-s<seed>-<key12>/      a finished, validated run (result.json, predictions.parquet, job.log, spec.json)
  _failed/<folder>-<utc>/      a failed attempt (failure.json, job.log): never touches a finished run
  .staging/<folder>-<pid>/     a run in progress; renamed into place only after validation
"""

import datetime as dt
import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from orchestrator.fsutil import atomic_write_text
from orchestrator.provenance import git_state, host_platform
from orchestrator.runs import PlannedRun
from shared_schema import JobResult, Provenance
from shared_schema.outputs import check_answers, check_predictions, predictions_payload

RESULT_FILE = "result.json"
PREDICTIONS_FILE = "predictions.parquet"
LOG_FILE = "job.log"
SPEC_FILE = "spec.json"
FailureKind = Literal["crash", "invalid-result", "timeout", "oom", "interrupted", "environment"]


class InvalidResult(Exception):
    """The job exited 0 but its outputs do not satisfy the shared schema."""


class FailureRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str
    seed: int
    run_key: str
    spec_sha256: str
    kind: FailureKind
    reason: str
    finished_at: dt.datetime


@dataclass(frozen=True)
class StoredResult:
    folder: Path
    result: JobResult


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def load_result(path: Path) -> JobResult:
    """Validate a run folder (or its result.json) and its predictions; raise InvalidResult."""
    folder = path.parent if path.name == RESULT_FILE else path
    result_file = folder / RESULT_FILE
    if not result_file.is_file():
        raise InvalidResult(f"{result_file}: missing")
    try:
        result = JobResult.model_validate(json.loads(result_file.read_text()))
    except Exception as exc:
        raise InvalidResult(f"{result_file}: {_first_error(exc)}") from exc
    validate_predictions(folder / PREDICTIONS_FILE, result)
    return result


def validate_predictions(path: Path, result: JobResult) -> None:
    if not path.is_file():
        raise InvalidResult(f"{path}: missing")
    try:
        check_predictions(predictions_payload(pq.read_table(path)), result)
    except Exception as exc:
        raise InvalidResult(f"{path}: {_first_error(exc)}") from exc


def _first_error(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:400]


class ResultStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._finished: list[StoredResult] | None = None  # memo; reset when a run is committed

    # -- finished runs -------------------------------------------------------------------------
    def final_dir(self, run: PlannedRun) -> Path:
        return self.root / run.folder_name

    def cached(self, run: PlannedRun) -> JobResult | None:
        """A valid finished result with exactly this run key, else None."""
        folder = self.final_dir(run)
        if not folder.is_dir():
            return None
        try:
            result = load_result(folder)
        except InvalidResult:
            return None
        if result.provenance is None or result.provenance.run_key != run.key.run_key:
            return None
        return result

    def finished(self) -> list[StoredResult]:
        """Every valid finished run, oldest first. Invalid folders are skipped (`orch validate` lists them)."""
        if self._finished is not None:
            return self._finished
        found = []
        for folder in self._run_folders():
            try:
                found.append(StoredResult(folder, load_result(folder)))
            except InvalidResult:
                continue
        self._finished = sorted(found, key=lambda s: s.result.provenance.finished_at if s.result.provenance else utc_now())
        return self._finished

    def latest_by_slug(self) -> dict[str, StoredResult]:
        return {s.result.spec.slug: s for s in self.finished()}

    def _run_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))

    # -- failures --------------------------------------------------------------------------------
    def record_failure(self, run: PlannedRun, kind: FailureKind, reason: str, log: Path | None) -> Path:
        now = utc_now()
        folder = self.root / "_failed" / f"{run.folder_name}-{now:%Y%m%dT%H%M%S%f}"
        folder.mkdir(parents=True, exist_ok=True)
        record = FailureRecord(
            slug=run.spec.slug, seed=run.spec.seed, run_key=run.key.run_key,
            spec_sha256=run.key.spec_sha256, kind=kind, reason=reason, finished_at=now,
        )
        if log is not None and log.is_file():
            shutil.copyfile(log, folder / LOG_FILE)
        atomic_write_text(folder / "failure.json", record.model_dump_json(indent=2) + "\n")
        return folder

    def failures(self) -> list[FailureRecord]:
        base = self.root / "_failed"
        records = []
        for file in sorted(base.glob("*/failure.json")) if base.is_dir() else []:
            try:
                records.append(FailureRecord.model_validate_json(file.read_text()))
            except Exception:
                continue
        return sorted(records, key=lambda r: r.finished_at)

    def last_failure(self, run_key: str) -> FailureRecord | None:
        matching = [r for r in self.failures() if r.run_key == run_key]
        return matching[-1] if matching else None

    # -- staging and commit ----------------------------------------------------------------------
    def new_staging(self, run: PlannedRun) -> Path:
        folder = self.root / ".staging" / f"{run.folder_name}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        atomic_write_text(folder / SPEC_FILE, run.spec.model_dump_json(indent=2) + "\n")
        return folder

    def ingest(self, staging: Path, run: PlannedRun, executor: str, started: dt.datetime,
               image_id: str | None = None, env_differences: dict[str, str] | None = None) -> JobResult:
        """Validate the job's outputs, check they answer the spec we sent, add provenance."""
        result = load_result(staging)
        try:
            check_answers(result, run.spec)
        except ValueError as exc:
            raise InvalidResult(str(exc)) from exc
        finished = utc_now()
        commit, dirty = git_state()
        stamped = result.model_copy(update={"provenance": Provenance(
            run_key=run.key.run_key,
            spec_sha256=run.key.spec_sha256,
            dataset_sha256=run.key.dataset_sha256,
            env_fingerprint=run.key.env_fingerprint,
            code_sha256=run.key.code_sha256,
            weights_sha256=run.key.weights_sha256,
            git_commit=commit,
            git_dirty=dirty,
            executor=executor,
            image_id=image_id,
            env_differences=env_differences,
            host_platform=host_platform(),
            wall_seconds=(finished - started).total_seconds(),
            started_at=started,
            finished_at=finished,
        )})
        JobResult.model_validate(stamped.model_dump())
        atomic_write_text(staging / RESULT_FILE, stamped.model_dump_json(indent=2) + "\n")
        return stamped

    def commit(self, staging: Path, run: PlannedRun) -> Path:
        """Move a validated staging folder into place; a previous result is replaced only now."""
        final = self.final_dir(run)
        self._finished = None
        if final.exists():
            trash = self.root / ".staging" / f"replaced-{final.name}-{uuid.uuid4().hex[:8]}"
            final.rename(trash)
            staging.rename(final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            staging.rename(final)
        return final

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)
