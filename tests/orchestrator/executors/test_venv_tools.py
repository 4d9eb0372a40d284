"""Native venvs built by uv or by pip: the same packages, the same identity, one shared cache entry."""

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.environments import ENVIRONMENTS
from orchestrator.errors import UserError
from orchestrator.executors.native import VenvManager
from orchestrator.executors.venv_tools import choose_installer, parse_pip_config, read_pip_settings

LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; print(json.dumps(sorted("
    "(d.metadata['Name'].lower().replace('_', '-'), d.version) for d in m.distributions())))"
)


def distributions(python: Path) -> list:
    done = subprocess.run([str(python), "-c", LIST_DISTRIBUTIONS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [tuple(pair) for pair in json.loads(done.stdout)]


def test_pip_settings_reach_uv_with_pips_precedence():
    listing = "\n".join(
        [
            ":env:.find-links='/opt/wheels'",
            "global.find-links='/elsewhere'",
            "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
            "global.constraint='/etc/xdg/pip/constraints.txt'",
            "install.cert='/etc/ssl/certs/ca.crt'",
            "global.cert='/ignored.crt'",
            ":env:.default-timeout='180'",
        ]
    )
    settings = parse_pip_config(listing)
    assert settings.uv_options() == [
        "--extra-index-url",
        "file:///opt/pypi/simple",
        "--extra-index-url",
        "file:///opt/pypi-more/simple",
        "--find-links",
        "/opt/wheels",
        "--constraint",
        "/etc/xdg/pip/constraints.txt",
    ]
    assert (settings.cert, settings.timeout, settings.no_index) == ("/etc/ssl/certs/ca.crt", "180", False)


def test_this_machines_pip_config_is_what_uv_gets(monkeypatch, tmp_path):
    """`pip config list` is read, not guessed: a PIP_* variable set now shows up in uv's options."""
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    assert read_pip_settings().find_links == (str(tmp_path),)


def test_installer_choice_is_explicit_and_checked(monkeypatch):
    monkeypatch.setenv("ORCH_VENV_TOOL", "pip")
    assert choose_installer().name == "pip"
    monkeypatch.setenv("ORCH_VENV_TOOL", "uv")
    assert choose_installer().name == "uv" and choose_installer().executable.is_file()  # uv is a host dependency
    monkeypatch.setenv("ORCH_VENV_TOOL", "conda")
    with pytest.raises(UserError, match="ORCH_VENV_TOOL='conda': expected one of auto, uv, pip"):
        choose_installer()


def test_a_pip_built_result_is_a_cache_hit_for_a_uv_built_venv(orch_home, tmp_path, monkeypatch):
    """Same pins, same identity: pip's and uv's sklearn venvs hold the same distributions, and a result
    made in the pip venv is skipped as done when orch would use the uv venv, with the same run key."""
    env = ENVIRONMENTS["sklearn"]
    monkeypatch.setenv("ORCH_VENV_TOOL", "pip")
    pip_venvs = VenvManager(tmp_path / "pip-cache" / "venvs")
    pip_python = pip_venvs.ensure(env, print)
    monkeypatch.setenv("ORCH_CACHE_DIR", str(tmp_path / "pip-cache"))
    done = CliRunner().invoke(cli, ["run", "logreg-h1", "--json"])
    assert done.exit_code == 0, done.output

    monkeypatch.setenv("ORCH_VENV_TOOL", "uv")
    monkeypatch.setenv("ORCH_CACHE_DIR", str(orch_home["ORCH_CACHE_DIR"]))  # the session's venvs, built by uv
    uv_venvs = VenvManager(orch_home["ORCH_CACHE_DIR"] / "venvs")
    uv_python = uv_venvs.ensure(env, print)
    assert (uv_venvs.path(env) / ".orch-built-with").read_text().startswith("uv ")
    assert (pip_venvs.path(env) / ".orch-built-with").read_text() == "pip\n"
    assert pip_venvs.path(env).name == uv_venvs.path(env).name
    assert distributions(pip_python) == distributions(uv_python)

    plan = CliRunner().invoke(cli, ["plan", "logreg-h1", "--json"])
    assert plan.exit_code == 0, plan.output
    assert [row["action"] for row in json.loads(plan.output)] == ["skip"], plan.output
    pip_result = next(orch_home["ORCH_RESULTS_DIR"].glob("logreg-h1-*/result.json"))
    monkeypatch.setenv("ORCH_RESULTS_DIR", str(tmp_path / "uv-results"))
    done = CliRunner().invoke(cli, ["run", "logreg-h1", "--json"])
    assert done.exit_code == 0, done.output
    uv_result = next((tmp_path / "uv-results").glob("logreg-h1-*/result.json"))
    made_with_pip, made_with_uv = (json.loads(path.read_text()) for path in (pip_result, uv_result))
    assert made_with_pip["provenance"]["run_key"] == made_with_uv["provenance"]["run_key"]
    assert made_with_pip["metrics"] == made_with_uv["metrics"]
