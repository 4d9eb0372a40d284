"""Dataset names: each becomes `<data dir>/<name>.parquet` and a manifest field, so it is checked
before any work (no `../` escapes from the data folder, nothing the manifest would refuse after a
whole build), and a CSV's file name is turned into one (`SPY (1).csv` -> `SPY_1`)."""

import re
import unicodedata
from pathlib import Path

from orchestrator.errors import UserError

# Stricter than the manifest's pattern: no leading dot (hidden files, `..`) and a bounded length.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # fullmatch: `$` would allow a trailing newline


def check_dataset_name(name: str, option: str) -> str:
    if not NAME.fullmatch(name):
        shown = name if len(name) <= 40 else f"{name[:40]}..."
        raise UserError(
            f"{option} {shown!r} is not a dataset name: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (a name under the data folder, not a path)"
        )
    return name


def name_from_file(path: Path) -> str:
    """Accents dropped, every other run of unsafe characters made one '_'."""
    ascii_stem = unicodedata.normalize("NFKD", Path(path).stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_stem).strip("_.-")[:64].rstrip("_.-")
    if not NAME.fullmatch(safe):
        raise UserError(f"cannot make a dataset name from the file name {Path(path).name[:60]!r}; pass --name")
    return safe
