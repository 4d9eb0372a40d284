"""`orch` works on the project the user stands in, not on the folder its code is installed in."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from click.testing import CliRunner

from orchestrator import paths
from orchestrator.commands.project import init_command
from tests.support.helpers import REPO

# What a wheel is built from (a copy, so that building leaves nothing in the checkout).
SOURCE_ENTRIES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "orchestrator",
    "jobs",
    "shared_schema",
    "images",
)
INSTALL_TIMEOUT_S = 600
RUN_TIMEOUT_S = 1800  # a cold session builds the sklearn venv first


def without_overrides() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("ORCH_DATA_DIR", "ORCH_RESULTS_DIR")}


def test_project_is_the_nearest_marked_folder_above_the_current_one(tmp_path, monkeypatch):
    for name in ("ORCH_DATA_DIR", "ORCH_RESULTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    checkout, other, bare = tmp_path / "checkout", tmp_path / "other", tmp_path / "bare"
    for folder in (checkout / "a" / "b", other / "sub", bare / "sub"):
        folder.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "fdinvest"\n')
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')  # not a marker
    (other / "orch.toml").write_text("")
    monkeypatch.chdir(checkout / "a" / "b")
    assert paths.project_root() == checkout and paths.results_dir() == checkout / "results"
    assert paths.data_dir() == checkout / "data" and paths.notebooks_dir() == checkout / "notebooks"
    monkeypatch.chdir(other / "sub")
    assert paths.find_project() == paths.Project(other, "orch.toml found")
    monkeypatch.chdir(bare / "sub")
    assert paths.project_root() == bare / "sub"  # no marker anywhere above: the current folder
    assert paths.find_project().how.startswith("no orch.toml")
    monkeypatch.setenv("ORCH_RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert paths.results_dir() == tmp_path / "elsewhere" and paths.data_dir() == bare / "sub" / "data"


def test_init_marks_a_folder_once_and_refuses_a_file(tmp_path, monkeypatch):
    target = tmp_path / "study"
    outcome = CliRunner().invoke(init_command, [str(target)])
    assert outcome.exit_code == 0 and (target / "orch.toml").is_file(), outcome.output
    assert paths.project_marker(target) == "orch.toml"
    before = (target / "orch.toml").read_text()
    outcome = CliRunner().invoke(init_command, [str(target)])
    assert outcome.exit_code == 0 and "already an orch project" in outcome.output
    assert (target / "orch.toml").read_text() == before
    (tmp_path / "file").write_text("x")
    outcome = CliRunner().invoke(init_command, [str(tmp_path / "file")])
    assert outcome.exit_code == 2 and len(outcome.output.strip().splitlines()) == 1


def test_doctor_prints_the_resolved_folders(tmp_path):
    (tmp_path / "orch.toml").write_text("")
    (tmp_path / "deep").mkdir()
    env = {**without_overrides(), "ORCH_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "doctor", "--json"],
        cwd=tmp_path / "deep",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = {row["check"]: row["detail"] for row in json.loads(done.stdout)}
    assert rows["project folder"] == f"{tmp_path} (orch.toml found)"
    assert rows["results folder"] == f"{tmp_path / 'results'} (default)"
    assert rows["data folder"] == f"{tmp_path / 'data'} (default)"
    assert rows["cache folder"] == f"{tmp_path / 'cache'} (from ORCH_CACHE_DIR)"
    assert rows["code"].startswith(f"{REPO} (checkout")


def _install_non_editable(tmp_path: Path) -> Path:
    """`pip install .` of a copy of this checkout into a fresh venv; the host's dependencies come from
    this interpreter's site-packages (a .pth line), so nothing is downloaded. Returns the venv."""
    source = tmp_path / "source"
    source.mkdir()
    subprocess.run(["cp", "-r", *(str(REPO / entry) for entry in SOURCE_ENTRIES), str(source)], check=True, timeout=120)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
        capture_output=True,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT_S)
    venv_pip = [str(venv / "bin" / "python"), *pip[1:]]
    subprocess.run(
        [*venv_pip, "install", "--no-deps", *map(str, wheels.glob("*.whl"))],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
        capture_output=True,
    )
    target = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    )
    (target / "host-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if "__pycache__" not in p.parts}


def test_a_non_editable_install_run_from_a_fresh_folder_writes_there(tmp_path, venv_cache):
    venv = _install_non_editable(tmp_path)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import orchestrator; print(orchestrator.__file__)"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
    ).parents[1]
    assert (
        site.is_relative_to(venv)
        and (site / "orchestrator" / "job_assets" / "images" / "sklearn" / "requirements.txt").is_file()
    )
    installed_before = _tree(site)
    project = tmp_path / "my-study"
    (project / "notes").mkdir(parents=True)
    env = {
        **without_overrides(),
        "ORCH_CACHE_DIR": str(venv_cache),
        "ORCH_EXECUTOR": "native",
        "HOME": str(tmp_path / "home"),
        "ORCH_WEIGHTS_DIR": str(tmp_path / "weights"),
    }
    orch = str(venv / "bin" / "orch")

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        done = subprocess.run([orch, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        assert done.returncode == 0, f"orch {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        return done

    run("init", cwd=project)
    run("data", "build", cwd=project / "notes")  # from a subfolder: the project's data/
    run("run", "logreg-h1", cwd=project / "notes")
    runs = [p for p in (project / "results").iterdir() if p.name.startswith("logreg-h1-s0-")]
    assert len(runs) == 1 and (runs[0] / "predictions.parquet").is_file()
    assert (project / "data" / "sp500.parquet").is_file()
    assert sorted(p.name for p in (project / "notes").iterdir()) == []
    assert _tree(site) == installed_before  # nothing written into the install
    result = json.loads((runs[0] / "result.json").read_text())
    assert result["provenance"]["git_commit"] is None  # installed code is not a checkout
    # the same code and pins as this checkout: the checkout's plan reads the installed run as a cache hit
    plan = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "plan", "logreg-h1", "--json"],
        cwd=REPO,
        env={**env, "ORCH_DATA_DIR": str(project / "data"), "ORCH_RESULTS_DIR": str(project / "results")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert json.loads(plan.stdout)[0]["action"] == "skip", plan.stdout
