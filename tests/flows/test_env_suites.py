"""The foundation-model suites (tests/images/<env>/) run natively, in the venv `orch` builds for it.

Every suite also runs inside its Docker image (tests/orchestrator/executors/test_docker.py, `orch test-images`). The
sklearn and torch suites check container facts (no network, read-only mounts), so their native
half is the host test suite itself, which runs those jobs in the host venv and the sklearn venv.
Every other env's suite runs natively too: a new env needs no entry here.
"""

import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.native import VenvManager
from shared_schema.base import ENV_NAMES
from tests.support.helpers import REPO

CONTAINER_FACT_SUITES = ("sklearn", "torch")
NATIVE_SUITES = tuple(name for name in ENVIRONMENTS if name not in CONTAINER_FACT_SUITES)


def test_the_schema_and_the_orchestrator_list_the_same_environments():
    assert list(ENV_NAMES) == list(ENVIRONMENTS)


def test_every_environment_has_a_suite():
    suites = sorted(p.name for p in (REPO / "tests" / "images").iterdir() if p.is_dir() and p.name in ENVIRONMENTS)
    assert suites == sorted(name for name, env in ENVIRONMENTS.items() if env.requirements.is_file())


@pytest.mark.parametrize("env_name", NATIVE_SUITES)
def test_environment_suite_passes_natively(env_name: str, venv_cache: Path):
    python = VenvManager(venv_cache / "venvs").ensure(ENVIRONMENTS[env_name], print)
    suite = f"tests/images/{env_name}"
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--confcutdir", suite, suite],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
