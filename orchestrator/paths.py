"""Where things live on the host. Every path can be overridden for tests and CI."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = "sp500"


def data_dir() -> Path:
    return Path(os.environ.get("ORCH_DATA_DIR", REPO_ROOT / "data"))


def results_dir() -> Path:
    return Path(os.environ.get("ORCH_RESULTS_DIR", REPO_ROOT / "results"))


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "orch"
    return Path(os.environ.get("ORCH_CACHE_DIR", default))


def weights_dir() -> Path:
    return Path(os.environ.get("ORCH_WEIGHTS_DIR", cache_dir() / "weights"))
