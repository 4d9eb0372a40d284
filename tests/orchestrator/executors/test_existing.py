"""`--python ENV=PATH` / ORCH_PYTHON_<ENV>: jobs run with an existing interpreter, checked against the
env's pins, differences recorded in provenance and in the run key; no venv is built."""

import json
import sys
from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.existing import inspect_interpreter, pin_differences
from orchestrator.executors.native import VenvManager
from orchestrator.results import load_result


def _run_folders(results: Path) -> list[Path]:
    return sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def test_pin_differences_name_every_missing_or_other_version():
    pins = {"numpy": "2.4.6", "scikit-learn": "1.9.1", "typing-extensions": "4.16.0", "tzdata": ""}
    installed = {"numpy": "2.4.6", "scikit_learn": "1.8.0", "typing_extensions": "4.16.0", "torch": "2.11.0"}
    assert pin_differences(pins, installed) == {"scikit-learn": "1.9.1 -> 1.8.0", "tzdata": "any -> missing"}


def test_this_interpreter_runs_jobs_with_its_differences_recorded(orch_home):
    """The test's own interpreter (not the pins' venv): runs logreg-h1 without building a venv."""
    report = inspect_interpreter(ENVIRONMENTS["sklearn"], Path(sys.executable))
    result = CliRunner().invoke(
        cli, ["run", "logreg-h1", "--python", f"sklearn={sys.executable}"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"sklearn: existing interpreter {sys.executable}" in result.output
    [folder] = _run_folders(orch_home["ORCH_RESULTS_DIR"])
    provenance = load_result(folder).provenance
    assert provenance.executor == "existing-python"
    assert provenance.env_differences == (report.differences or None)
    expected = ENVIRONMENTS["sklearn"].identity(report.python, report.platform, report.differences).fingerprint
    assert provenance.env_fingerprint == expected
    assert (":diff-" in expected) == bool(report.differences)


def test_interpreter_matching_every_pin_shares_the_venv_cache(orch_home, monkeypatch):
    """ORCH_PYTHON_SKLEARN at the venv built from the pins: no differences, so a native result is
    cached for it (and its identity is the native one)."""
    ran = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "native"], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    python = VenvManager().python(ENVIRONMENTS["sklearn"])
    assert inspect_interpreter(ENVIRONMENTS["sklearn"], python).differences == {}
    monkeypatch.setenv("ORCH_PYTHON_SKLEARN", str(python))
    planned = CliRunner().invoke(cli, ["plan", "logreg-h1", "--json"], catch_exceptions=False)
    assert json.loads(planned.output)[0]["action"] == "skip", planned.output


def test_bad_interpreter_is_one_line_exit_2(orch_home, tmp_path):
    for value, expected in (
        (f"sklearn={tmp_path / 'nope'}", "not an executable file"),
        ("nosuchenv=/usr/bin/python3", "unknown env 'nosuchenv'"),
        ("sklearn", "expects ENV=PATH"),
        ("sklearn=/bin/false", "not a working Python"),
    ):
        result = CliRunner().invoke(cli, ["plan", "logreg-h1", "--python", value])
        assert result.exit_code == 2 and expected in result.output, (value, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2, result.output
