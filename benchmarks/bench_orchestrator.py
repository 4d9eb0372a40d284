"""Orchestrator overheads: `orch plan --all`, a fully cached `orch run --all`, and the native
executor's per-job overhead versus calling the job entrypoint directly in the same venv.

    python benchmarks/bench_orchestrator.py [--repeats 3]

Uses throw-away data/results folders; the venv cache is the user's (built on first use).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    orch = [sys.executable, "-m", "orchestrator.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ORCH_DATA_DIR": f"{tmp}/data", "ORCH_RESULTS_DIR": f"{tmp}/results"}
        first = timed(orch + ["run", "--all", "--keep-going"], env)  # builds data (+ venvs if missing), runs all
        plan = [timed(orch + ["plan", "--all"], env) for _ in range(args.repeats)]
        cached = [timed(orch + ["run", "--all"], env) for _ in range(args.repeats)]
        via_orch = [timed(orch + ["run", "logreg-h1", "--force"], env) for _ in range(args.repeats)]

        from orchestrator.environments import ENVIRONMENTS
        from orchestrator.executors.native import VenvManager

        python = VenvManager().python(ENVIRONMENTS["sklearn"])
        folder = next(p for p in Path(f"{tmp}/results").iterdir() if p.name.startswith("logreg-h1-"))
        direct_env = {**env, "PYTHONPATH": str(REPO)}
        direct = []
        for i in range(args.repeats):
            out = Path(tmp) / f"direct{i}"
            direct.append(
                timed(
                    [
                        str(python),
                        "-m",
                        "jobs",
                        "run",
                        "--spec",
                        str(folder / "spec.json"),
                        "--data",
                        f"{tmp}/data",
                        "--out",
                        str(out),
                    ],
                    direct_env,
                )
            )
    med = statistics.median
    print(f"first `orch run --all` (data build + all implemented jobs): {first:.2f}s")
    print(f"`orch plan --all`                      median {med(plan):.3f}s over {args.repeats}")
    print(f"`orch run --all`, everything cached    median {med(cached):.3f}s over {args.repeats}")
    print(f"logreg-h1 via `orch run --force`       median {med(via_orch):.3f}s")
    print(f"logreg-h1 job entrypoint directly      median {med(direct):.3f}s")
    print(
        f"native executor overhead per job       {med(via_orch) - med(direct):.3f}s "
        "(CLI start, planning, validation, provenance, commit)"
    )


if __name__ == "__main__":
    main()
