"""`orch data build`: OHLCV -> 25 features + targets + splits -> parquet and manifest."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.data.features import FEATURE_NAMES, compute_features, feature_definitions
from orchestrator.data.splits import FoldDates, FoldSplitter, SimpleSplitter
from orchestrator.data.targets import threshold_target
from orchestrator.errors import DataError
from orchestrator.fsutil import atomic_write_bytes, atomic_write_text
from shared_schema import DatasetManifest, FeatureInfo, Fold, SourceInfo, SplitDates, SplitSummary
from shared_schema.base import read_json_model

BUILDER_VERSION = "1"
SPLITS = ("train", "val", "test")
INDICATOR_WARM_UP = 60  # rows before every indicator is defined (the longest lookbacks plus smoothing)


@dataclass(frozen=True)
class BuildRequest:
    name: str
    source: SourceInfo
    split_dates: SplitDates
    horizons: tuple[int, ...] = (1, 3)
    threshold: float = 0.01
    context_length: int = 80
    # Walk-forward folds (empty: one split by `split_dates`); the last fold's dates equal `split_dates`.
    folds: tuple[FoldDates, ...] = ()


def target_column(horizon: int) -> str:
    return f"target_h{horizon}"


def usable_column(horizon: int) -> str:
    return f"usable_h{horizon}"


def fold_split_column(fold: int) -> str:
    return f"split_f{fold}"


def fold_usable_column(fold: int, horizon: int) -> str:
    return f"usable_f{fold}_h{horizon}"


def _check_splits(frame: pd.DataFrame, split: np.ndarray, usable: dict[int, np.ndarray], what: str) -> None:
    for name in SPLITS:
        rows = split == name
        if not rows.any():
            raise DataError(
                f"{what}: split {name!r} has no rows (data {frame['date'].iloc[0].date()}..{frame['date'].iloc[-1].date()})"
            )
        for h, mask in usable.items():
            if not (rows & mask).any():
                raise DataError(f"{what}: split {name!r} has no labelled rows for horizon {h}")


def assemble(ohlcv: pd.DataFrame, request: BuildRequest) -> pd.DataFrame:
    """The dataset as a frame: date, 25 features, split, target_hH / usable_hH per horizon."""
    frame = compute_features(ohlcv)
    complete = np.isfinite(frame[FEATURE_NAMES].to_numpy(dtype="float64")).all(axis=1)
    if not complete.any():
        if len(frame) < INDICATOR_WARM_UP:
            raise DataError(f"too few rows ({len(frame)}) to compute the indicators (need about {INDICATOR_WARM_UP})")
        never = [c for c in FEATURE_NAMES if not np.isfinite(frame[c].to_numpy(dtype="float64")).any()]
        raise DataError(f"feature(s) {never} undefined on every one of the {len(frame)} rows")
    first = int(np.argmax(complete))
    frame = frame.iloc[first:].reset_index(drop=True)
    gaps = ~np.isfinite(frame[FEATURE_NAMES].to_numpy(dtype="float64"))
    if gaps.any():
        row = int(np.argmax(gaps.any(axis=1)))
        bad = [c for c, gap in zip(FEATURE_NAMES, gaps[row]) if gap]
        raise DataError(f"feature(s) {bad} undefined or infinite on {pd.Timestamp(frame['date'].iloc[row]).date()}")
    needed = request.context_length + max(request.horizons)
    if len(frame) < needed:
        raise DataError(
            f"too few rows after indicator warm-up: {len(frame)} < context {request.context_length} + horizon {max(request.horizons)}"
        )
    splitter = SimpleSplitter(request.split_dates)
    split = splitter.assign(frame["date"])
    frame["split"] = split
    high, close = frame["high"].to_numpy(), frame["close"].to_numpy()
    targets = {h: threshold_target(high, close, h, request.threshold) for h in request.horizons}
    for h, target in targets.items():
        frame[target_column(h)] = target
        frame[usable_column(h)] = splitter.usable(split, target, h)
    dates = request.split_dates
    _check_splits(
        frame,
        split,
        {h: frame[usable_column(h)].to_numpy() for h in request.horizons},
        f"split dates {dates.train_end} / {dates.val_end}",
    )
    for index, fold in enumerate(request.folds):
        fold_splitter = FoldSplitter(fold)
        fold_split = fold_splitter.assign(frame["date"])
        frame[fold_split_column(index)] = fold_split
        for h, target in targets.items():
            frame[fold_usable_column(index, h)] = fold_splitter.usable(fold_split, target, h)
        _check_splits(
            frame,
            fold_split,
            {h: frame[fold_usable_column(index, h)].to_numpy() for h in request.horizons},
            f"walk-forward fold {index} (test {fold.val_end}..{fold.test_end})",
        )
    frame["date"] = frame["date"].dt.date
    return frame


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Deterministic parquet: fixed schema, no pandas metadata, no timestamps."""
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue().to_pybytes()


def _split_summaries(
    frame: pd.DataFrame, split_column: str, usable: Callable[[int], str], horizons: tuple[int, ...]
) -> dict[str, SplitSummary]:
    splits = {}
    for name in SPLITS:
        part = frame[frame[split_column] == name]
        labelled, rates = {}, {}
        for h in horizons:
            rows = part[part[usable(h)]]
            labelled[f"h{h}"] = len(rows)
            rates[f"h{h}"] = float(rows[target_column(h)].astype(float).mean())
        splits[name] = SplitSummary(
            rows=len(part),
            start=part["date"].iloc[0],
            end=part["date"].iloc[-1],
            labelled=labelled,
            positive_rate=rates,
        )
    return splits


def summarise(frame: pd.DataFrame, request: BuildRequest, sha256: str) -> DatasetManifest:
    folds = [
        Fold(
            index=k,
            train_end=f.train_end,
            val_end=f.val_end,
            test_end=f.test_end,
            splits=_split_summaries(
                frame, fold_split_column(k), lambda h, k=k: fold_usable_column(k, h), request.horizons
            ),
        )
        for k, f in enumerate(request.folds)
    ]
    return DatasetManifest(
        name=request.name,
        sha256=sha256,
        builder_version=BUILDER_VERSION,
        source=request.source,
        rows=len(frame),
        date_start=frame["date"].iloc[0],
        date_end=frame["date"].iloc[-1],
        features=[FeatureInfo(name=n, definition=d) for n, d in feature_definitions()],
        horizons=list(request.horizons),
        threshold=request.threshold,
        split_dates=request.split_dates,
        splits=_split_summaries(frame, "split", usable_column, request.horizons),
        split_scheme="walk-forward" if folds else "single",
        folds=folds,
    )


def build_dataset(ohlcv: pd.DataFrame, request: BuildRequest, out_dir: Path) -> DatasetManifest:
    """Write `<out_dir>/<name>.parquet` and `<name>.manifest.json` atomically; return the manifest."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, request.name)
    frame = assemble(ohlcv, request)
    payload = to_parquet_bytes(frame)
    manifest = summarise(frame, request, hashlib.sha256(payload).hexdigest())
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out_dir / f"{request.name}.parquet", payload)
        atomic_write_text(manifest_path(out_dir, request.name), manifest.model_dump_json(indent=2) + "\n")
    except OSError as exc:
        raise DataError(f"cannot write the dataset into {out_dir}: {exc.strerror or exc}") from exc
    return manifest


def check_output_folder(out_dir: Path, name: str) -> None:
    """Before the build: a file where the folder should be, or a folder where a file should be."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir} is a file, not a folder for datasets")
    for target in (out_dir / f"{name}.parquet", manifest_path(out_dir, name)):
        if target.exists() and not target.is_file():
            raise DataError(f"{target} exists and is not a file; move it away")


def manifest_path(data_dir: Path, name: str) -> Path:
    return Path(data_dir) / f"{name}.manifest.json"


def load_manifest(data_dir: Path, name: str) -> DatasetManifest:
    path = manifest_path(data_dir, name)
    if path.exists() and not path.is_file():
        raise DataError(f"{path} is not a file; move it away and rebuild with `orch data build`")
    if not path.is_file():
        raise DataError(f"dataset {name!r} not built: {path} missing (run `orch data build`)")
    try:
        return read_json_model(DatasetManifest, path)
    except ValueError as exc:
        raise DataError(f"{path}: invalid manifest ({exc})") from exc
