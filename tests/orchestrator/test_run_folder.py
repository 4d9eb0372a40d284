"""One gate for every run folder (issue 36 item 1): each tampering (tests/support/fuzz_inputs.py) is planted on a copy of a real
results folder, and `orch validate`, the report's loader, `orch export`'s reader and the store
(`orch list/plan/status`) must accept exactly the same folders: the untouched ones."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from threadpoolctl import threadpool_limits

from jobs.common.runner import run_job
from orchestrator.cli import cli
from orchestrator.export import read_valid_runs
from orchestrator.report.load import load_results
from orchestrator.results import ResultStore
from orchestrator.run_folder import read_run_folder
from tests.support.fuzz_inputs import ADDS_A_FOLDER, RUN_FOLDER_TAMPERINGS, edit_result
from tests.support.helpers import seal_run
from tests.support.planted_results import result_folder, spec_for


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


def accepted_by_validate(results: Path) -> set[str]:
    invoked = CliRunner().invoke(cli, ["validate", str(results)])
    assert invoked.exit_code in (0, 2) and "Traceback" not in invoked.output, invoked.output
    return {Path(line.split()[1]).name for line in invoked.output.splitlines() if line.startswith("ok ")}


def accepted_by_report(results: Path) -> set[str]:
    loaded = load_results(results)
    used = {run.folder.name for experiment in loaded.experiments for run in experiment.runs}
    superseded = {s.folder.name for s in loaded.skipped if s.reason.startswith("superseded")}
    return used | superseded | {s.folder.name for s in loaded.excluded}


@pytest.mark.parametrize("label", list(RUN_FOLDER_TAMPERINGS))
def test_every_reader_accepts_the_same_folders(pristine, tmp_path, label):
    results = tmp_path / "results"
    shutil.copytree(pristine / "results", results, symlinks=True)
    untouched, victim = sorted(results.iterdir())
    RUN_FOLDER_TAMPERINGS[label](victim, pristine / "outside")
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

    from tests.support.helpers import REPO

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
    edit_result(lambda d: d.update(provenance=None))(staging, tmp_path)  # what a job writes
    spec = JobResult.model_validate_json((staging / "result.json").read_bytes()).spec
    assert compose_run.validate(staging, spec).spec == spec
    edit_result(lambda d: d["metrics"]["val"].update(brier=0.01))(staging, tmp_path)
    with pytest.raises(ValueError, match="val brier: result.json says 0.01, the predictions give"):
        compose_run.validate(staging, spec)
    (staging / "result.json").unlink()
    (staging / "result.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ValueError, match="symbolic link"):
        compose_run.validate(staging, spec)
