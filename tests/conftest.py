"""Shared fixtures: real datasets built once per session, and an isolated orch home per test."""

from pathlib import Path

import pytest

from orchestrator.data.build import BuildRequest, build_dataset
from orchestrator.data.bundled import build_default_dataset
from orchestrator.data.sources import synthetic_ohlcv
from orchestrator.data.splits import BUNDLED_SPLITS
from shared_schema import DatasetManifest, SourceInfo


@pytest.fixture(scope="session")
def bundled_data(tmp_path_factory) -> tuple[Path, DatasetManifest]:
    """The real bundled S&P 500 dataset, built once."""
    folder = tmp_path_factory.mktemp("bundled")
    return folder, build_default_dataset(folder)


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> tuple[Path, DatasetManifest]:
    folder = tmp_path_factory.mktemp("synthetic")
    request = BuildRequest(
        name="synthetic", source=SourceInfo(kind="synthetic", description="test", seed=3), split_dates=BUNDLED_SPLITS
    )
    return folder, build_dataset(synthetic_ohlcv(rows=2600, seed=3), request, folder)


@pytest.fixture(scope="session")
def venv_cache(tmp_path_factory) -> Path:
    """One venv cache per test session, so the sklearn venv is built once and reused."""
    return tmp_path_factory.mktemp("orch-cache")


@pytest.fixture
def orch_home(tmp_path, monkeypatch, venv_cache, bundled_data) -> dict[str, Path]:
    """ORCH_* folders for one test; the bundled dataset is copied in as the default dataset."""
    data = tmp_path / "data"
    data.mkdir()
    source, manifest = bundled_data
    for suffix in (".parquet", ".manifest.json"):
        (data / f"{manifest.name}{suffix}").write_bytes((source / f"{manifest.name}{suffix}").read_bytes())
    homes = {"ORCH_DATA_DIR": data, "ORCH_RESULTS_DIR": tmp_path / "results", "ORCH_CACHE_DIR": venv_cache}
    for key, value in homes.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("ORCH_EXECUTOR", "native")  # these tests are about the native executor
    monkeypatch.setenv("ORCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    return homes
