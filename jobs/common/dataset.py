"""Loads the mounted dataset and refuses one that does not match its manifest or the spec."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from jobs.common.errors import JobError
from jobs.common.weights import sha256_file
from shared_schema import DatasetManifest, ExperimentSpec
from shared_schema.base import read_json_model


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
        manifest = read_json_model(DatasetManifest, manifest_file)
    except ValueError as exc:
        raise JobError(f"{manifest_file}: invalid manifest: {exc}") from exc
    actual = sha256_file(parquet)
    if actual != manifest.sha256:
        raise JobError(f"{parquet}: sha256 {actual[:12]} does not match its manifest ({manifest.sha256[:12]})")
    if actual != spec.dataset.sha256:
        raise JobError(
            f"{parquet}: sha256 {actual[:12]} is not the dataset the spec names ({spec.dataset.sha256[:12]})"
        )
    if spec.horizon not in manifest.horizons:
        raise JobError(f"dataset has no target for horizon {spec.horizon} (has {manifest.horizons})")
    if abs(spec.threshold - manifest.threshold) > 1e-12:
        raise JobError(f"spec threshold {spec.threshold} differs from the dataset's {manifest.threshold}")
    if spec.fold is not None and spec.fold >= len(manifest.folds):
        raise JobError(f"spec names walk-forward fold {spec.fold} but the dataset has {len(manifest.folds)} fold(s)")
    expected = manifest.split_dates if spec.fold is None else manifest.folds[spec.fold].split_dates
    if spec.split_dates != expected:
        raise JobError(f"spec split dates {spec.split_dates} differ from the dataset's {expected}")
    try:
        frame = pd.read_parquet(parquet)
    except Exception as exc:
        raise JobError(f"{parquet}: unreadable parquet ({type(exc).__name__})") from exc
    return Dataset(manifest=manifest, frame=select_fold(frame, spec.fold, manifest.horizons))


def select_fold(frame: pd.DataFrame, fold: int | None, horizons: list[int]) -> pd.DataFrame:
    """Make a walk-forward fold's split/usable columns the ones every job reads ('split', 'usable_hH')."""
    if fold is None:
        return frame
    chosen = {"split": frame[f"split_f{fold}"]} | {f"usable_h{h}": frame[f"usable_f{fold}_h{h}"] for h in horizons}
    return frame.assign(**chosen)
