"""One gate for every run folder (issue 36 item 1): each tampering is planted on a copy of a real
results folder, and `orch validate`, the report's loader, `orch export`'s reader and the store
(`orch list/plan/status`) must accept exactly the same folders: the untouched ones."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from jobs.common.runner import run_job
from orchestrator.cli import cli
from orchestrator.export import read_valid_runs
from orchestrator.report.load import load_results
from orchestrator.results import ResultStore
from orchestrator.run_folder import read_run_folder
from tests.helpers import seal_run
from tests.test_report import result_folder, spec_for


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, bundled_data) -> Path:
    """Two real, committed logreg runs (h1, h3) on the bundled data, plus a valid logreg-vol run outside."""
    data_dir, manifest = bundled_data
    base = tmp_path_factory.mktemp("gate")
    with threadpool_limits(limits=1):
        for where, model, horizon in (
            (base / "results", "logreg", 1),
            (base / "results", "logreg", 3),
            (base / "outside", "logreg-vol", 1),
        ):
            spec = spec_for(model, horizon, 0, "quick", manifest.sha256)
            folder = result_folder(where, spec)
            run_job(folder / "spec.json", data_dir, folder, None)
            seal_run(folder)
    return base


def _edit_result(change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    def plant(run: Path, outside: Path) -> None:
        data = json.loads((run / "result.json").read_text())
        change(data)
        (run / "result.json").write_text(json.dumps(data))

    return plant


def _shuffle_predictions(run: Path, outside: Path) -> None:
    table = pq.read_table(run / "predictions.parquet")
    shuffled = np.random.default_rng(36).permutation(table.column("p").to_numpy())
    pq.write_table(table.set_column(3, "p", pa.array(shuffled, pa.float64())), run / "predictions.parquet")


def _copy_under_another_name(run: Path, outside: Path) -> None:
    shutil.copytree(run, run.parent / f"{run.name[:-12]}{'0' * 12}")


def _link_result_out(run: Path, outside: Path) -> None:
    (run / "result.json").unlink()
    (run / "result.json").symlink_to(next(outside.iterdir()) / "result.json")


def _link_predictions_out(run: Path, outside: Path) -> None:
    (run / "predictions.parquet").unlink()
    (run / "predictions.parquet").symlink_to(next(outside.iterdir()) / "predictions.parquet")


def _link_log_out(run: Path, outside: Path) -> None:
    (run / "job.log").symlink_to("/etc/passwd")


def _link_folder_out(run: Path, outside: Path) -> None:
    """A run-named link in the results folder to a valid run elsewhere (its own name, its own key)."""
    target = next(outside.iterdir())
    (run.parent / target.name).symlink_to(target, target_is_directory=True)


def _nest(run: Path, outside: Path) -> None:
    (run / "result.json").write_text('{"spec": ' + "[" * 200_000 + "]" * 200_000 + "}")


def _recorded_part(run: Path, outside: Path) -> None:
    _edit_result(lambda d: d["provenance"].update(env_fingerprint="another environment"))(run, outside)


TAMPERINGS: dict[str, Callable[[Path, Path], None]] = {
    "quick profile edited to full": _edit_result(lambda d: d["spec"].update(profile="full")),
    "hyper-parameters edited": _edit_result(lambda d: d["spec"]["hyperparameters"].update(C=123.0)),
    "run key removed": _edit_result(lambda d: d.update(provenance=None)),
    "run key edited": _edit_result(lambda d: d["provenance"].update(run_key="0" * 64)),
    "a recorded key part edited": _recorded_part,
    "test AUC edited": _edit_result(lambda d: d["metrics"]["test"].update(auc=0.99)),
    "decision threshold edited": _edit_result(lambda d: d.update(decision_threshold=0.123)),
    "predictions shuffled": _shuffle_predictions,
    "predictions removed": lambda run, outside: (run / "predictions.parquet").unlink(),
    "predictions cut short": lambda run, outside: (run / "predictions.parquet").write_bytes(
        (run / "predictions.parquet").read_bytes()[:500]
    ),
    "result.json removed": lambda run, outside: (run / "result.json").unlink(),
    "result.json not JSON": lambda run, outside: (run / "result.json").write_text("{not json"),
    "result.json nested 200000 deep": _nest,
    "folder copied under another name": _copy_under_another_name,
    "folder renamed": lambda run, outside: run.rename(run.parent / f"{run.name[:-12]}{'f' * 12}"),
    "result.json a link out of the folder": _link_result_out,
    "predictions a link out of the folder": _link_predictions_out,
    "job.log a link to /etc/passwd": _link_log_out,
    "a run-named link to a valid run outside": _link_folder_out,
}


# Tamperings that add a folder beside the run they copy or link, leaving that run itself intact.
ADDS_A_FOLDER = {"folder copied under another name", "a run-named link to a valid run outside"}


def accepted_by_validate(results: Path) -> set[str]:
    invoked = CliRunner().invoke(cli, ["validate", str(results)])
    assert invoked.exit_code in (0, 2) and "Traceback" not in invoked.output, invoked.output
    return {Path(line.split()[1]).name for line in invoked.output.splitlines() if line.startswith("ok ")}


def accepted_by_report(results: Path) -> set[str]:
    loaded = load_results(results)
    used = {run.folder.name for experiment in loaded.experiments for run in experiment.runs}
    superseded = {s.folder.name for s in loaded.skipped if s.reason.startswith("superseded")}
    return used | superseded | {s.folder.name for s in loaded.excluded}


@pytest.mark.parametrize("label", list(TAMPERINGS))
def test_every_reader_accepts_the_same_folders(pristine, tmp_path, label):
    results = tmp_path / "results"
    shutil.copytree(pristine / "results", results, symlinks=True)
    untouched, victim = sorted(results.iterdir())
    TAMPERINGS[label](victim, pristine / "outside")
    # the runs no tampering touched are the only ones any reader may use
    expected = {untouched.name} | ({victim.name} if label in ADDS_A_FOLDER else set())
    assert accepted_by_validate(results) == expected
    assert accepted_by_report(results) == expected
    assert {run.folder.name for run in read_valid_runs(results).runs} == expected
    assert {stored.folder.name for stored in ResultStore(results).finished()} == expected
    report = CliRunner().invoke(cli, ["report", "--results", str(results), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0 and f"skipped {results}" in report.output, report.output


def test_the_pristine_folder_is_accepted_whole(pristine, tmp_path):
    """The tamperings above are what makes a folder fail: untouched, both runs pass every reader."""
    results = pristine / "results"
    names = {folder.name for folder in results.iterdir()}
    assert len(names) == 2
    assert accepted_by_validate(results) == accepted_by_report(results) == names
    assert {stored.folder.name for stored in ResultStore(results).finished()} == names
    assert all(read_run_folder(folder).result.provenance is not None for folder in results.iterdir())


def test_the_readers_share_one_module_and_no_import_circle():
    """export -> report/load -> run_folder, and results -> run_folder: neither load nor export imports results."""
    import ast

    from tests.helpers import REPO

    for module in ("orchestrator/export.py", "orchestrator/report/load.py", "orchestrator/run_folder.py"):
        tree = ast.parse((REPO / module).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "orchestrator.results" not in imported, module


def test_compose_recomputes_every_metric_before_it_commits(pristine, tmp_path):
    """compose/run.py validates its staging folder with the same outputs reader: a stated metric the
    predictions do not give, or a link out of the folder, is refused before the commit."""
    from compose import run as compose_run
    from shared_schema import JobResult

    staging = tmp_path / "staging"
    shutil.copytree(next((pristine / "results").iterdir()), staging)
    _edit_result(lambda d: d.update(provenance=None))(staging, tmp_path)  # what a job writes
    spec = JobResult.model_validate_json((staging / "result.json").read_bytes()).spec
    assert compose_run.validate(staging, spec).spec == spec
    _edit_result(lambda d: d["metrics"]["val"].update(brier=0.01))(staging, tmp_path)
    with pytest.raises(ValueError, match="val brier: result.json says 0.01, the predictions give"):
        compose_run.validate(staging, spec)
    (staging / "result.json").unlink()
    (staging / "result.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ValueError, match="symbolic link"):
        compose_run.validate(staging, spec)
