"""The job environments: pinned requirements, the code each runs, and their fingerprints."""

import hashlib
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.paths import REPO_ROOT


@dataclass(frozen=True)
class Environment:
    name: str
    # Packages (relative to the repo) whose code a job of this env executes, besides the common ones.
    job_packages: tuple[str, ...]
    docker_platform: str | None = None  # None = the host's native platform

    @property
    def folder(self) -> Path:
        return REPO_ROOT / "images" / self.name

    @property
    def requirements(self) -> Path:
        return self.folder / "requirements.txt"

    def native_fingerprint(self) -> str:
        """Requirements lock hash plus the interpreter and platform the venv is built with."""
        if not self.requirements.is_file():
            return "lock-missing"
        digest = hashlib.sha256(self.requirements.read_bytes())
        digest.update(f"{sys.version_info.major}.{sys.version_info.minor}|{platform.system()}|{platform.machine()}".encode())
        return "lock-" + digest.hexdigest()[:16]


COMMON_CODE = ("shared_schema", "jobs/common", "jobs/__init__.py", "jobs/__main__.py", "jobs/registry.py")

ENVIRONMENTS: dict[str, Environment] = {
    "sklearn": Environment("sklearn", ("jobs/baselines",)),
    "torch": Environment("torch", ("jobs/torch_models", "jobs/timer")),
    "gluonts": Environment("gluonts", ("jobs/lagllama",)),
    "timesfm": Environment("timesfm", ("jobs/timesfm",), docker_platform="linux/amd64"),
}


def code_sha256(env: Environment) -> str:
    """Hash of every Python file a job of this env can execute (content and relative path)."""
    digest = hashlib.sha256()
    for entry in COMMON_CODE + env.job_packages:
        path = REPO_ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
        for file in files:
            digest.update(str(file.relative_to(REPO_ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()
