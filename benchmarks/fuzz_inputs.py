"""The hardening table for user inputs: N mutated CSVs through `orch data build` and M mutated
option sets through `orch plan` (the same engine as tests/flows/test_fuzz_inputs.py, more inputs).

    python benchmarks/fuzz_inputs.py [--csvs 1000] [--options 500] [--seed 1]

Prints inputs tried / accepted / clean errors / tracebacks / silent acceptance / bad output /
data loss, and every input that was not accepted or cleanly refused.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the engine lives in tests/support/
from tests.support.fuzz_inputs import OUTCOMES, fuzz_csvs, fuzz_options, tally


def report(title: str, outcomes: list[str], seconds: float) -> None:
    counts = tally(outcomes)
    print(
        f"{title}: {len(outcomes)} inputs tried in {seconds:.1f}s | "
        + " | ".join(f"{name} {counts[name]}" for name in OUTCOMES)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csvs", type=int, default=1000)
    parser.add_argument("--options", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            {
                "ORCH_DATA_DIR": f"{tmp}/data",
                "ORCH_RESULTS_DIR": f"{tmp}/results",
                "ORCH_WEIGHTS_DIR": f"{tmp}/weights",
                "ORCH_EXECUTOR": "native",
            }
        )
        from orchestrator.data.bundled import build_default_dataset

        build_default_dataset(Path(f"{tmp}/data"))
        started = time.perf_counter()
        csvs = fuzz_csvs(args.csvs, args.seed, Path(tmp) / "csv")
        report("CSV -> orch data build", [r.outcome for r in csvs], time.perf_counter() - started)
        started = time.perf_counter()
        options = fuzz_options(args.options, args.seed)
        report("options -> orch plan  ", [o for _, o, _ in options], time.perf_counter() - started)
        for r in csvs:
            if r.outcome not in ("accepted", "clean error"):
                print(f"  CSV {r.case.label}: {r.outcome}: {r.detail}")
        for argv, outcome, detail in options:
            if outcome not in ("accepted", "clean error"):
                print(f"  {' '.join(a[:40] for a in argv)}: {outcome}: {detail}")


if __name__ == "__main__":
    main()
