"""Planning cost versus seeds: `orch plan --all --seeds N --json` wall time, with a results folder
that already holds failure records (each read once per plan, not once per seed).

    python benchmarks/bench_planning.py [--seeds 1 100 1000] [--failures 200]

Uses a throw-away data/results folder; nothing runs.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--failures", type=int, default=200, help="failure records in the results folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "ORCH_DATA_DIR": f"{tmp}/data",
            "ORCH_RESULTS_DIR": f"{tmp}/results",
            "ORCH_WEIGHTS_DIR": f"{tmp}/weights",
            "ORCH_EXECUTOR": "native",
        }
        os.environ.update(env)
        from orchestrator.data.bundled import build_default_dataset
        from orchestrator.registry import EXPERIMENTS
        from orchestrator.results import ResultStore
        from orchestrator.runs import plan_run

        manifest = build_default_dataset(Path(f"{tmp}/data"))
        store = ResultStore(Path(f"{tmp}/results"))
        for i in range(args.failures):
            run = plan_run(EXPERIMENTS[i % len(EXPERIMENTS)], manifest, "quick", 1000 + i, env_fingerprint="bench")
            store.record_failure(run, "crash", "benchmark record", None)
        print(f"{len(EXPERIMENTS)} experiments, {args.failures} failure records in the results folder")
        for seeds in args.seeds:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "orchestrator.cli", "plan", "--all", "--seeds", str(seeds), "--json"],
                cwd=REPO,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - started
            decisions = seeds * len(EXPERIMENTS)
            print(
                f"`orch plan --all --seeds {seeds:>5}`: {seconds:7.2f}s for {decisions:>6} decisions "
                f"({1e3 * seconds / decisions:.3f} ms each, CLI start included)"
            )


if __name__ == "__main__":
    main()
