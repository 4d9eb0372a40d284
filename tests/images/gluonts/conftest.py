"""Fixtures for the gluonts image suite: real bundled data, a small slice of it, random-init weights."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from jobs.lagllama.checkpoint import write_random_init  # noqa: E402
from shared_schema import DatasetManifest  # noqa: E402

torch.set_num_threads(1)

BUILD_CODE = """
import sys
from pathlib import Path
from orchestrator.data.sources import load_arch_sp500
from orchestrator.data.build import build_dataset, BuildRequest
from orchestrator.data.splits import BUNDLED_SPLITS
from shared_schema import SourceInfo
build_dataset(load_arch_sp500(), BuildRequest('sp500', SourceInfo(kind='arch-sp500', description='arch sp500'), BUNDLED_SPLITS), Path(sys.argv[1]))
"""


def _host_python() -> str:
    """arch and TA-Lib are host packages; build with this interpreter if it has them, else the host venv."""
    try:
        import arch  # noqa: F401
        import talib  # noqa: F401

        return sys.executable
    except ImportError:
        return os.environ.get("ORCH_HOST_PYTHON", str(REPO / ".venv" / "bin" / "python"))


@pytest.fixture(scope="session")
def bundled_data(tmp_path_factory) -> tuple[Path, DatasetManifest]:
    """The real bundled S&P 500 dataset (1999-2018), built by the project's own builder.

    Inside a container without arch/TA-Lib or a host interpreter, point LAGLLAMA_TEST_DATA at a
    folder holding an already built sp500.parquet + sp500.manifest.json (e.g. the /data mount)."""
    folder = tmp_path_factory.mktemp("bundled")
    prebuilt = os.environ.get("LAGLLAMA_TEST_DATA")
    if prebuilt:
        for suffix in (".parquet", ".manifest.json"):
            shutil.copyfile(Path(prebuilt) / f"sp500{suffix}", folder / f"sp500{suffix}")
    else:
        python = _host_python()
        assert Path(python).exists(), (
            f"no interpreter with arch + TA-Lib at {python}: set ORCH_HOST_PYTHON or LAGLLAMA_TEST_DATA"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [python, "-c", BUILD_CODE, str(folder)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"building the bundled dataset with {python} failed: {done.stderr[-2000:]}"
    manifest = DatasetManifest.model_validate_json((folder / "sp500.manifest.json").read_text())
    assert manifest.source.kind == "arch-sp500"
    return folder, manifest


@pytest.fixture(scope="session")
def small_data(bundled_data, tmp_path_factory) -> tuple[Path, DatasetManifest]:
    """The last 1300 rows of the bundled data (2013-2018): every sample lacks the full 1124-value history."""
    source, manifest = bundled_data
    frame = pd.read_parquet(source / "sp500.parquet").iloc[-1300:].reset_index(drop=True)
    folder = tmp_path_factory.mktemp("small")
    parquet = folder / "sp500small.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), parquet)
    sha = hashlib.sha256(parquet.read_bytes()).hexdigest()
    small = manifest.model_copy(
        update={
            "name": "sp500small",
            "sha256": sha,
            "rows": len(frame),
            "date_start": pd.Timestamp(frame["date"].iloc[0]).date(),
        }
    )
    (folder / "sp500small.manifest.json").write_text(small.model_dump_json(indent=2))
    return folder, small


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """A weights cache holding a random-init checkpoint in the published layout."""
    folder = tmp_path_factory.mktemp("weights")
    write_random_init(folder, seed=0)
    return folder
