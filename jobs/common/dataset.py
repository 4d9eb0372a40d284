"""Loads the mounted dataset and refuses one that does not match its manifest or the spec."""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from jobs.common.errors import JobError
from jobs.common.weights import sha256_file
from shared_schema import DatasetManifest, ExperimentSpec


@dataclass(frozen=True)
class Dataset:
    manifest: DatasetManifest
    frame: pd.DataFrame

    @property
    def feature_names(self) -> list[str]:
        return self.manifest.feature_names


def load_dataset(data_dir: Path, spec: ExperimentSpec) -> Dataset:
    data_dir = Path(data_dir)
    name = spec.dataset.name
    parquet = data_dir / f"{name}.parquet"
    manifest_file = data_dir / f"{name}.manifest.json"
    for path in (parquet, manifest_file):
        if not path.is_file():
            raise JobError(f"dataset file missing: {path}")
    try:
        manifest = DatasetManifest.model_validate(json.loads(manifest_file.read_text()))
    except Exception as exc:
        raise JobError(f"{manifest_file}: invalid manifest: {str(exc).splitlines()[0]}") from exc
    actual = sha256_file(parquet)
    if actual != manifest.sha256:
        raise JobError(f"{parquet}: sha256 {actual[:12]} does not match its manifest ({manifest.sha256[:12]})")
    if actual != spec.dataset.sha256:
        raise JobError(f"{parquet}: sha256 {actual[:12]} is not the dataset the spec names ({spec.dataset.sha256[:12]})")
    if spec.horizon not in manifest.horizons:
        raise JobError(f"dataset has no target for horizon {spec.horizon} (has {manifest.horizons})")
    if abs(spec.threshold - manifest.threshold) > 1e-12:
        raise JobError(f"spec threshold {spec.threshold} differs from the dataset's {manifest.threshold}")
    if spec.split_dates != manifest.split_dates:
        raise JobError(f"spec split dates {spec.split_dates} differ from the dataset's {manifest.split_dates}")
    try:
        frame = pd.read_parquet(parquet)
    except Exception as exc:
        raise JobError(f"{parquet}: unreadable parquet ({type(exc).__name__})") from exc
    return Dataset(manifest=manifest, frame=frame)
