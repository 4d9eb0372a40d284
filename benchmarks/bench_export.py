"""`orch export` on a large results folder: seconds for the run table and the predictions table.

    python benchmarks/bench_export.py --run results/logreg-h1-s0-<key12> [--runs 100 1000]

Copies one real committed run N times (seeds 1..N, each re-keyed exactly as a commit keys it, its
predictions as they are) into a throw-away results folder, then times `orch export` (every folder
validated: schema, predictions contract, metrics recomputed, run key) and writes both tables.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.real_runs import copy_run  # noqa: E402  (the same re-keying the tests use)


def timed_export(results: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "export", "--results", str(results), *extra],
        check=True,
        capture_output=True,
        timeout=3600,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True, help="a committed run folder to copy")
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    for count in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "results"
            for seed in range(1, count + 1):
                copy_run(args.run, results, seed=seed)
            table_s = timed_export(results, "--out", f"{tmp}/runs.parquet")
            long_s = timed_export(results, "--predictions", "--out", f"{tmp}/predictions.parquet")
            rows = pq.ParquetFile(f"{tmp}/predictions.parquet").metadata.num_rows
            print(
                f"{count:5d} runs: table {table_s:6.1f}s ({1000 * table_s / count:5.1f} ms/run), "
                f"predictions {long_s:6.1f}s ({rows} rows)"
            )


if __name__ == "__main__":
    main()
