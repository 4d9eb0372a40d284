"""Each environment's own suite (tests/images/<env>/) run natively, in the venv `orch` builds for it.

The same suites run inside the Docker images (`orch test-images`); this is the native half.
"""

import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.native import VenvManager
from tests.helpers import REPO

SUITES = sorted(p.name for p in (REPO / "tests" / "images").iterdir() if p.is_dir() and p.name in ENVIRONMENTS)


def test_every_environment_has_a_suite():
    assert SUITES == sorted(name for name, env in ENVIRONMENTS.items() if env.requirements.is_file())


@pytest.mark.parametrize("env_name", SUITES)
def test_environment_suite_passes_natively(env_name: str, venv_cache: Path):
    python = VenvManager(venv_cache / "venvs").ensure(ENVIRONMENTS[env_name], print)
    suite = f"tests/images/{env_name}"
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--confcutdir", suite, suite],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=3600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
