"""Where things live on the host. Every path can be overridden for tests and CI.

Two roots, because an installed `orch` and the user's work are in different places:
- the code root holds the code `orch` runs (orchestrator/, jobs/, shared_schema/): a checkout, or
  site-packages after `pip install .`. Venvs, images, code hashes and Ray snapshots are made from it.
- the project root is where the user works: data/, results/ and notebooks/ go there. `orch` walks up
  from the current folder to the nearest folder holding a project marker (a pyproject.toml naming
  this project, or the `orch.toml` that `orch init` writes), else it uses the current folder, as git
  and DVC work on the project the user stands in. ORCH_DATA_DIR / ORCH_RESULTS_DIR still override.
"""

import os
import shutil
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

from shared_schema.identity import code_sha256

CODE_ROOT = Path(__file__).resolve().parent.parent
PROJECT_NAME = "fdinvest"
PROJECT_FILE = "orch.toml"
DEFAULT_DATASET = "sp500"
# Top-level packages a job imports from this project (nothing else may shadow the env's own packages).
JOB_CODE = ("jobs", "shared_schema")


def is_checkout(folder: Path) -> bool:
    """A folder whose pyproject.toml names this project: a clone of the repository."""
    try:
        pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return pyproject.get("project", {}).get("name") == PROJECT_NAME


IS_CHECKOUT = is_checkout(CODE_ROOT)
# A checkout keeps the environments' Dockerfile and pins at the top; a wheel carries them inside the
# orchestrator package (setup.py copies them there), since site-packages has no room for a top-level images/.
INSTALLED_IMAGES = Path(__file__).resolve().parent / "job_assets" / "images"
IMAGES_DIR = CODE_ROOT / "images" if IS_CHECKOUT else INSTALLED_IMAGES


@dataclass(frozen=True)
class Project:
    root: Path
    how: str  # why this folder: the marker found, or that none was found


def project_marker(folder: Path) -> str | None:
    """The marker that makes `folder` a project root, or None."""
    if (folder / PROJECT_FILE).is_file():
        return PROJECT_FILE
    if is_checkout(folder):
        return "pyproject.toml"
    return None


def find_project(start: Path | None = None) -> Project:
    """The nearest folder at or above `start` (default: the current folder) holding a marker, else `start`."""
    here = Path.cwd() if start is None else Path(start)
    here = here.resolve()
    for folder in (here, *here.parents):
        marker = project_marker(folder)
        if marker is not None:
            return Project(folder, f"{marker} found")
    return Project(here, f"no {PROJECT_FILE} or fdinvest pyproject.toml here or above: the current folder")


def project_root() -> Path:
    return find_project().root


def data_dir() -> Path:
    return Path(os.environ.get("ORCH_DATA_DIR") or project_root() / "data")


def results_dir() -> Path:
    return Path(os.environ.get("ORCH_RESULTS_DIR") or project_root() / "results")


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "orch"
    return Path(os.environ.get("ORCH_CACHE_DIR", default))


def weights_dir() -> Path:
    return Path(os.environ.get("ORCH_WEIGHTS_DIR", cache_dir() / "weights"))


def job_code_root() -> Path:
    """The folder a native job gets as its PYTHONPATH. A checkout is used as it is. An installed copy
    sits in site-packages beside the host's own packages (pydantic, numpy...), which must not shadow
    the env's pinned ones, so jobs/ and shared_schema/ are copied once per code hash into the cache."""
    if IS_CHECKOUT:
        return CODE_ROOT
    target = cache_dir() / "job-code" / code_sha256(CODE_ROOT, JOB_CODE)[:16]
    if target.is_dir():
        return target
    building = target.with_name(f".{target.name}-{uuid.uuid4().hex[:8]}")
    try:
        for name in JOB_CODE:
            shutil.copytree(CODE_ROOT / name, building / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        building.rename(target)
    except OSError:
        if not target.is_dir():  # not merely another process finishing the same copy first
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target
