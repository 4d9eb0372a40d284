"""The Colab route: a notebook generated from the job code, executed for real with nbclient in the
timesfm venv (random-init TimesFM 2.5 checkpoint in the published layout, the bundled data), then
ingested, reported, and refused when its data, spec, code or predictions do not hold."""

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import nbformat
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from nbclient.exceptions import CellExecutionError

from orchestrator.cli import cli
from orchestrator.data.build import BuildRequest, build_dataset
from orchestrator.data.sources import load_arch_sp500
from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.native import VenvManager
from orchestrator.notebooks.generate import BUNDLE_MARK, NotebookInputs, drift, write_notebook
from orchestrator.registry import BY_SLUG
from orchestrator.results import ResultStore
from shared_schema import JobResult, SourceInfo, SplitDates
from tests.support.helpers import REPO
from tests.support.notebook_kernel import execute, kernel_overlay, kernel_spec, with_parameters

SMALL_ARCH = {"model_dims": 64, "num_layers": 2, "num_heads": 4}  # the timesfm suite's reduced 2.5 architecture
SAVE_RANDOM_INIT = (
    "import sys, json; from jobs.timesfm.model import save_random_init; "
    "save_random_init(sys.argv[1], json.loads(sys.argv[2]), seed=1)"
)
EXPORTED = Path("fdinvest_run") / "timesfm-h1-s0-notebook.zip"


@pytest.fixture(scope="module")
def timesfm_python(venv_cache) -> Path:
    """The venv `orch` builds for env timesfm (the env suite's, when it ran first in this session)."""
    return VenvManager(venv_cache / "venvs").ensure(ENVIRONMENTS["timesfm"], print)


@pytest.fixture(scope="module")
def kernels(timesfm_python, venv_cache, tmp_path_factory) -> Path:
    overlay = kernel_overlay(timesfm_python, venv_cache / f"kernel-{timesfm_python.parents[1].name}")
    return kernel_spec(timesfm_python, overlay, tmp_path_factory.mktemp("kernels"))


@pytest.fixture(scope="module")
def random_weights(timesfm_python, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    subprocess.run(
        [str(timesfm_python), "-c", SAVE_RANDOM_INIT, str(folder), json.dumps(SMALL_ARCH)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"},
        check=True,
        timeout=600,
        capture_output=True,
    )
    return folder


@pytest.fixture(scope="module")
def generated(bundled_data, tmp_path_factory) -> Path:
    data_dir, manifest = bundled_data
    inputs = NotebookInputs(BY_SLUG["timesfm-h1"], manifest, data_dir / f"{manifest.name}.parquet", "quick")
    return write_notebook(inputs, tmp_path_factory.mktemp("notebooks"))


@pytest.fixture(scope="module")
def exported(generated, kernels, random_weights, bundled_data, tmp_path_factory) -> Path:
    """The zip the executed notebook exported (zero-shot: the cheapest mode of the real job)."""
    data_dir, manifest = bundled_data
    workdir = tmp_path_factory.mktemp("colab")
    notebook = with_parameters(
        generated,
        DATA_URL=str(data_dir / f"{manifest.name}.parquet"),
        WEIGHTS_DIR=str(random_weights),
        OVERRIDES={"mode": "zero-shot"},
    )
    execute(notebook, kernels, workdir)
    assert not (workdir / "fdinvest_bundle" / "orchestrator").exists()
    return workdir / EXPORTED


def run_folders(results: Path) -> list[Path]:
    return [p for p in results.iterdir() if not p.name.startswith((".", "_"))] if results.is_dir() else []


def test_executed_notebook_is_ingested_and_reported(exported, orch_home):
    claim = JobResult.model_validate_json(zipfile.ZipFile(exported).read("result.json")).provenance
    outcome = CliRunner().invoke(cli, ["ingest", str(exported)])
    assert outcome.exit_code == 0, outcome.output
    assert "random-init weights: not a finding" in outcome.output
    [folder] = run_folders(orch_home["ORCH_RESULTS_DIR"])
    stored = ResultStore(orch_home["ORCH_RESULTS_DIR"]).finished()[0].result
    assert stored.provenance.executor == "notebook" and stored.weights.kind == "random-init"
    assert stored.provenance.run_key == claim.run_key and folder.name.endswith(claim.run_key[:12])
    assert stored.provenance.host_platform == claim.host_platform and "device used: cpu" in claim.host_platform
    assert stored.spec.hyperparameters["mode"] == "zero-shot" and stored.notes["mode"] == "zero-shot"
    assert stored.environment.packages["timesfm"] != "absent"
    again = CliRunner().invoke(cli, ["ingest", str(exported)])  # same run key: the same folder, not a second run
    assert again.exit_code == 0 and run_folders(orch_home["ORCH_RESULTS_DIR"]) == [folder]
    status = json.loads(CliRunner().invoke(cli, ["status", "--json"]).output)
    assert [run["folder"] for run in status["finished"]] == [folder.name]
    report = CliRunner().invoke(cli, ["report", "--bootstrap", "200"])
    assert report.exit_code == 0, report.output
    text = (orch_home["ORCH_RESULTS_DIR"] / "report.md").read_text()
    assert "FD-03 timesfm-h1" in text and "FLAGGED: random-init" in text


def test_tampered_data_fails_the_md5_cell(generated, kernels, random_weights, bundled_data, tmp_path):
    data_dir, manifest = bundled_data
    tampered = tmp_path / f"{manifest.name}.parquet"
    shutil.copyfile(data_dir / f"{manifest.name}.parquet", tampered)
    with open(tampered, "ab") as handle:
        handle.write(b"\0")
    notebook = with_parameters(generated, DATA_URL=str(tampered), WEIGHTS_DIR=str(random_weights))
    with pytest.raises(CellExecutionError, match="MD5 [0-9a-f]{32} is not the dataset this notebook was generated for"):
        execute(notebook, kernels, tmp_path / "work")
    assert not (tmp_path / "work" / "fdinvest_bundle").exists()  # stopped before any job code was written


def test_inlined_code_that_differs_from_the_repository_fails_the_drift_check(generated, orch_home, tmp_path):
    assert drift(generated) == []
    notebook = nbformat.read(str(generated), as_version=4)
    edited = next(c for c in notebook.cells if c.metadata.get(BUNDLE_MARK) == "jobs/common/metrics.py")
    edited.source += "\nP_FLOOR = 0.0\n"
    notebook.cells = [c for c in notebook.cells if c.metadata.get(BUNDLE_MARK) != "jobs/timesfm/probability.py"]
    path = tmp_path / "timesfm-h1.ipynb"
    nbformat.write(notebook, str(path))
    assert drift(path) == [
        "jobs/timesfm/probability.py: in the repository, not in the notebook",
        "jobs/common/metrics.py: differs from the repository",
    ]
    outcome = CliRunner().invoke(cli, ["notebook", "timesfm-h1", "--out", str(tmp_path), "--check"])
    assert outcome.exit_code == 2 and "jobs/common/metrics.py: differs from the repository" in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1


def test_notebook_command_covers_the_three_envs_and_refuses_others(orch_home, tmp_path):
    for slug, weights_hub in (
        ("timesfm-h3", "google/timesfm-2.5-200m-flax"),
        ("lagllama-h1", "time-series-foundation-models/Lag-Llama"),
        ("patchtst-h1", None),
    ):
        outcome = CliRunner().invoke(cli, ["notebook", slug, "--profile", "full", "--out", str(tmp_path)])
        assert outcome.exit_code == 0, outcome.output
        notebook = nbformat.read(str(tmp_path / f"{slug}.ipynb"), as_version=4)
        nbformat.validate(notebook)
        parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
        assert f"EXPERIMENT = {slug!r}" in parameters.source and "PROFILE = 'full'" in parameters.source
        constants = next(c.source for c in notebook.cells if c.source.startswith("# Generated by `orch notebook`"))
        assert (f"'hub_id': {weights_hub!r}" if weights_hub else "'weights': None") in constants
        assert CliRunner().invoke(cli, ["notebook", slug, "--out", str(tmp_path), "--check"]).exit_code == 0
    refused = CliRunner().invoke(cli, ["notebook", "logreg-h1", "--out", str(tmp_path)])
    assert refused.exit_code == 2 and "notebooks exist for envs timesfm, gluonts, torch" in refused.output


def unzip(exported: Path, into: Path) -> Path:
    into.mkdir()
    zipfile.ZipFile(exported).extractall(into)
    return into


def test_result_for_other_data_is_refused(exported, orch_home):
    other = SplitDates(train_end="2014-01-01", val_end="2016-01-01")
    request = BuildRequest("sp500", SourceInfo(kind="arch-sp500", description="other splits"), other)
    build_dataset(load_arch_sp500(), request, orch_home["ORCH_DATA_DIR"])
    outcome = CliRunner().invoke(cli, ["ingest", str(exported)])
    assert outcome.exit_code == 2 and outcome.output.startswith("Error: other data: the result is for dataset sp500")
    assert run_folders(orch_home["ORCH_RESULTS_DIR"]) == []


def _stale_spec(folder: Path) -> None:
    data = json.loads((folder / "result.json").read_text())
    data["spec"]["context_length"] = 64
    (folder / "result.json").write_text(json.dumps(data))


def _other_code(folder: Path) -> None:
    data = json.loads((folder / "result.json").read_text())
    data["provenance"]["code_sha256"] = "0" * 64
    (folder / "result.json").write_text(json.dumps(data))


def _not_from_a_notebook(folder: Path) -> None:
    data = json.loads((folder / "result.json").read_text())
    data["provenance"] = None  # what a job writes: the host, not the job, stamps provenance
    (folder / "result.json").write_text(json.dumps(data))


def _bad_p(folder: Path) -> None:
    table = pq.read_table(folder / "predictions.parquet")
    p = table.column("p").to_pylist()
    table = table.set_column(3, "p", pa.array([1.5] + p[1:], pa.float64()))
    pq.write_table(table, folder / "predictions.parquet")


@pytest.mark.parametrize(
    "tamper,reason",
    [
        (_stale_spec, "stale spec: today's registry asks timesfm-h1 for other context_length"),
        (_other_code, "stale code: the notebook ran job code 000000000000"),
        (_bad_p, "invalid result:"),
        (_not_from_a_notebook, "not a notebook's result"),
    ],
)
def test_mismatched_results_are_refused_and_nothing_is_stored(exported, orch_home, tmp_path, tamper, reason):
    folder = unzip(exported, tmp_path / "received")
    tamper(folder)
    outcome = CliRunner().invoke(cli, ["ingest", str(folder)])
    assert outcome.exit_code == 2 and reason in outcome.output, outcome.output
    assert len(outcome.output.strip().splitlines()) == 1
    results = orch_home["ORCH_RESULTS_DIR"]
    assert run_folders(results) == [] and not any((results / ".staging").glob("*"))
