"""The job environments: pinned requirements, the code each runs, and their identities."""

import re
from dataclasses import dataclass
from pathlib import Path

from jobs.catalog import job_identity
from orchestrator.paths import CODE_ROOT, IMAGES_DIR
from shared_schema.identity import (
    EnvironmentIdentity,
    environment_identity,
    model_code_sha256,
    platform_name,
    python_version,
)
from shared_schema.identity import code_sha256 as hash_code

# The Python every env's pins were frozen with, hence the images' Python: the Dockerfile refuses a
# base image with another one, so a Docker job's identity is known without building its image.
IMAGE_PYTHON = "3.11"
# A pin-file line (also read by images/Dockerfile) that installs the pins with --no-deps.
NO_DEPS_DIRECTIVE = "# orch: install --no-deps"


@dataclass(frozen=True)
class PlatformChoice:
    """An image platform chosen per Docker engine (orchestrator/executors/platforms.py): `preferred`
    where this engine's containers of that platform have every x86 CPU flag in `needs`, else
    `fallback`. `needs_why` completes "lack AVX, which ..." in the reason orch prints."""

    preferred: str
    fallback: str
    needs: tuple[str, ...]
    needs_why: str


@dataclass(frozen=True)
class Environment:
    name: str
    # Packages (relative to the repo) whose code a job of this env executes, besides the common ones.
    job_packages: tuple[str, ...]
    # The image's platform: None = the engine's own, a fixed "os/arch", or a PlatformChoice.
    docker_platform: "str | PlatformChoice | None" = None

    @property
    def folder(self) -> Path:
        return IMAGES_DIR / self.name

    @property
    def requirements(self) -> Path:
        return self.folder / "requirements.txt"

    @property
    def installs_without_dependencies(self) -> bool:
        """True when the pin file carries NO_DEPS_DIRECTIVE: its full pin set is installed as written,
        without resolving the packages' declared requirements. For an env whose pins knowingly
        override one (the granite env: torch 2.13.0 against granite-tsfm's `torch<2.12`); the pin
        file says which and why, and the env's suite shows the overridden stack works."""
        return any(line.strip() == NO_DEPS_DIRECTIVE for line in self.requirements.read_text().splitlines())

    def pins(self) -> dict[str, str]:
        """Pinned packages, normalised name -> version ('' when a line pins no exact version)."""
        found = {}
        for line in self.requirements.read_text().splitlines():
            match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==\s*([^\s;#]+))?", line)
            if match and not line.lstrip().startswith(("#", "-")):
                found[package_key(match.group(1))] = match.group(4) or ""
        return found

    def identity(self, python: str, platform: str, differences: dict[str, str] | None = None) -> EnvironmentIdentity:
        """Lock hash + Python + platform (see shared_schema.identity): the run key's environment part."""
        return environment_identity(self.requirements.read_bytes(), python, platform, differences)

    def native_fingerprint(self) -> str:
        """A venv built from the pins with this interpreter, on this platform."""
        if not self.requirements.is_file():
            return "lock-missing"
        return self.identity(python_version(), platform_name()).fingerprint


def package_key(name: str) -> str:
    """PEP 503-style normalisation, so `typing_extensions` and `typing-extensions` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


COMMON_CODE = ("shared_schema", "jobs/common", "jobs/__init__.py", "jobs/__main__.py", "jobs/registry.py")
# Imported by every job but hashed per model (`code_sha256`), never as a file: see jobs/catalog.py.
CATALOG_FILE = "jobs/catalog.py"

# The plan's route is linux/amd64; Rosetta for Linux (Docker Desktop on Apple silicon) reports no
# AVX, and every timesfm pin also has an aarch64 wheel.
TIMESFM_PLATFORM = PlatformChoice(
    preferred="linux/amd64",
    fallback="linux/arm64",
    needs=("avx",),
    needs_why="the pinned jaxlib's x86 wheel needs (it refuses to start without)",
)

ENVIRONMENTS: dict[str, Environment] = {
    "sklearn": Environment("sklearn", ("jobs/baselines",)),
    "torch": Environment("torch", ("jobs/torch_models", "jobs/timer")),
    "gluonts": Environment("gluonts", ("jobs/lagllama",)),
    "timesfm": Environment("timesfm", ("jobs/timesfm",), docker_platform=TIMESFM_PLATFORM),
    "chronos": Environment("chronos", ("jobs/chronos2",)),
    "tirex": Environment("tirex", ("jobs/tirex",)),
    "granite": Environment("granite", ("jobs/granite",)),
}


def code_files(env: Environment) -> list[Path]:
    """Every Python file a job of this env can execute but the catalog, in hashing order."""
    files = []
    for entry in COMMON_CODE + env.job_packages:
        path = CODE_ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
    return files


def bundled_files(env: Environment) -> list[Path]:
    """Every Python file a job of this env imports: the hashed code files, then the catalog."""
    return code_files(env) + [CODE_ROOT / CATALOG_FILE]


def code_sha256(env: Environment, model: str) -> str:
    """Hash of every Python file a job of this env can execute (content and relative path), plus the
    model's own catalog entry."""
    return model_code_sha256(hash_code(CODE_ROOT, COMMON_CODE + env.job_packages), job_identity(model))
