"""The dataset a run reads: the bundled S&P 500 dataset (built when absent, no network), and any
named dataset's manifest checked against its parquet before anything is planned on it."""

import tempfile
from pathlib import Path

from orchestrator import paths
from orchestrator.console import say
from orchestrator.data.build import BuildRequest, build_dataset, load_manifest, manifest_path
from orchestrator.data.names import check_dataset_name
from orchestrator.data.sources import load_arch_sp500
from orchestrator.data.splits import BUNDLED_SPLITS
from orchestrator.errors import DataError
from orchestrator.fsutil import sha256_file
from shared_schema import DatasetManifest, SourceInfo


def build_default_dataset(data_dir: Path) -> DatasetManifest:
    """The bundled S&P 500 index dataset (no network), as `orch run` builds it when absent."""
    request = BuildRequest(
        name=paths.DEFAULT_DATASET,
        source=SourceInfo(kind="arch-sp500", description="S&P 500 index daily OHLCV 1999-2018 from the arch package"),
        split_dates=BUNDLED_SPLITS,
    )
    return build_dataset(load_arch_sp500(), request, data_dir)


def ensure_dataset(data_dir: Path, name: str, *, build: bool) -> DatasetManifest:
    """The named dataset's manifest, after checking the parquet is the file it describes: a
    corrupted or replaced file must not be planned as 'cached' under the manifest's hash. The
    bundled dataset, when missing, is built into `data_dir` with `build` (`orch run`); without it
    (`orch plan`, which writes nothing) it is built in a scratch folder only to learn its identity."""
    check_dataset_name(name, "--dataset")
    if not manifest_path(data_dir, name).exists() and name == paths.DEFAULT_DATASET:
        if not build:
            say(f"dataset {name!r} is not built in {data_dir} yet: `orch run` builds it (the plan uses its identity)")
            with tempfile.TemporaryDirectory() as scratch:
                return build_default_dataset(Path(scratch))
        say(f"dataset {name!r} not found in {data_dir}: building it from the bundled S&P 500 data")
        return build_default_dataset(data_dir)
    manifest = load_manifest(data_dir, name)
    parquet = data_dir / f"{name}.parquet"
    if not parquet.is_file():
        raise DataError(f"{parquet} missing; rebuild with `orch data build`")
    if sha256_file(parquet) != manifest.sha256:
        raise DataError(
            f"{parquet} does not match its manifest (sha256 {sha256_file(parquet)[:12]}, manifest "
            f"{manifest.sha256[:12]}): the file changed or is corrupt; rebuild it with `orch data build`"
        )
    return manifest
