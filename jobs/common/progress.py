"""Machine-readable progress lines a job prints on stdout, and their parser (the host's scheduler
reads them to show per-job progress). Stdlib only: both sides import this module.

Only validation figures may travel here: the test split is scored once, at the end, and never
shown while work is running (blind mode).
"""

import json

PREFIX = "[progress] "
FIELDS = frozenset({"seed", "epoch", "epochs", "val_auc", "phase"})


def progress_line(**fields) -> str:
    unknown = set(fields) - FIELDS
    if unknown:
        raise ValueError(f"progress lines carry only {sorted(FIELDS)}, not {sorted(unknown)}")
    return PREFIX + json.dumps(fields, sort_keys=True)


def emit(**fields) -> None:
    print(progress_line(**fields), flush=True)


def parse_progress_line(line: str) -> dict | None:
    """The fields of a progress line; None for any other line (or a malformed one)."""
    if not line.startswith(PREFIX):
        return None
    try:
        fields = json.loads(line[len(PREFIX) :])
    except json.JSONDecodeError:
        return None
    if not isinstance(fields, dict):
        return None
    return {k: v for k, v in fields.items() if k in FIELDS}
