"""The one reader of a run folder. The store (`orch list/plan/run/status`), `orch validate`, the
report, `orch export` and the notebook API all decide through `read_run_folder` whether a folder
is a usable run, so they count the same runs; compose/run.py checks its staging folder with the
same outputs reader (jobs/common/verify.py) before it commits.

A finished run folder must hold its own files (no symbolic link anywhere in it), a result.json that
matches the schema, predictions that match the contract and reproduce every stated metric, and an
identity that still holds: the spec hashes to the recorded spec hash, the run key is the hash of
its recorded parts, and the folder is named after slug, seed and key.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from jobs.common.verify import OutputsError, read_outputs
from shared_schema import JobResult
from shared_schema.commit import PREDICTIONS_FILE, RESULT_FILE
from shared_schema.identity import KeyParts, canonical_spec_json, run_folder_name, sha256_text

RUN_FOLDER = re.compile(r"^(?P<slug>.+)-s(?P<seed>\d+)-(?P<key>[0-9a-f]{12})$")


class InvalidResult(ValueError):
    """A folder that is not a usable run: `where` (the folder or file at fault) and a one-line `reason`."""

    def __init__(self, where: Path, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = Path(where)
        self.reason = reason

    @property
    def in_folder(self) -> str:
        """The reason as seen from inside the run folder: `result.json: missing`, or the reason alone."""
        return (
            self.reason
            if self.where.name not in (RESULT_FILE, PREDICTIONS_FILE)
            else f"{self.where.name}: {self.reason}"
        )


@dataclass(frozen=True)
class CheckedRun:
    """A run folder that passed every check, with its predictions as read (split, date order as written)."""

    folder: Path
    result: JobResult
    predictions: pa.Table


def is_run_folder(path: Path) -> bool:
    """A folder offered as a finished run: named <slug>-s<seed>-<key12>, or holding a result.json.
    Report output (figures/, report.md) and the store's own `_failed`/`.staging` are not runs. A
    symbolic link named like a run is one (and is then refused by `read_run_folder`, with the reason)."""
    path = Path(path)
    if path.name.startswith(("_", ".")) or not path.is_dir():
        return False
    return bool(RUN_FOLDER.match(path.name)) or (path / RESULT_FILE).exists()


def folder_of(path: Path) -> Path:
    """A run folder given as itself or as its result.json."""
    path = Path(path)
    return path.parent if path.name == RESULT_FILE else path


def read_job_outputs(path: Path) -> CheckedRun:
    """A folder of job outputs not yet committed (staging, an ingested notebook run): everything but
    identity, which only the commit adds. Raises InvalidResult."""
    folder = folder_of(path)
    try:
        result, table = read_outputs(folder)
    except OutputsError as exc:
        raise InvalidResult(exc.file, exc.reason) from None
    return CheckedRun(folder, result, table)


def check_identity(folder: Path, result: JobResult) -> None:
    """A committed run must still be what its run key says (see the module docstring); InvalidResult if not."""
    provenance = result.provenance
    if provenance is None:
        raise InvalidResult(folder, "result.json has no provenance block, so it was not committed by orch")
    if sha256_text(canonical_spec_json(result.spec)) != provenance.spec_sha256:
        raise InvalidResult(folder, "the spec in result.json is not the spec its run key was made from")
    if result.spec.dataset.sha256 != provenance.dataset_sha256:
        raise InvalidResult(folder, "the spec's dataset differs from the dataset in the run key")
    parts = KeyParts(
        provenance.spec_sha256,
        provenance.dataset_sha256,
        provenance.env_fingerprint,
        provenance.code_sha256,
        provenance.weights_sha256,
    )
    if parts.run_key != provenance.run_key:
        raise InvalidResult(folder, f"run key {provenance.run_key[:12]} is not the hash of its recorded parts")
    expected = run_folder_name(result.spec, provenance.run_key)
    if Path(folder).name != expected:
        raise InvalidResult(folder, f"folder name does not match the result inside (expected {expected})")


def read_run_folder(path: Path) -> CheckedRun:
    """A committed run: the job's outputs (`read_job_outputs`) and its identity. Raises InvalidResult."""
    run = read_job_outputs(path)
    check_identity(run.folder, run.result)
    return run


def run_folders(results_dir: Path) -> list[Path]:
    """The folders under `results_dir` offered as runs (`is_run_folder`), by name; none if it is no folder."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    return sorted(path for path in results_dir.iterdir() if is_run_folder(path))


@dataclass(frozen=True)
class ResultsFolder:
    """Every folder offered as a run: those that passed, and the others with the reason."""

    runs: list[CheckedRun]
    invalid: list[InvalidResult]


def read_results_folder(results_dir: Path, on_folder: Callable[[], None] = lambda: None) -> ResultsFolder:
    """`read_run_folder` on every run folder of `results_dir`; `on_folder` is called after each."""
    runs, invalid = [], []
    for folder in run_folders(results_dir):
        try:
            runs.append(read_run_folder(folder))
        except InvalidResult as exc:
            invalid.append(exc)
        on_folder()
    return ResultsFolder(runs, invalid)
