"""Per-job overhead of `--executor ray` versus `--executor native` on this machine.

    python benchmarks/bench_ray.py [--seeds 5]

Runs logreg-h1 for seeds 0..N-1 one job at a time (-j 1) three ways, each into its own throw-away
results folder: native; ray on an existing two-node cluster on 127.0.0.1 (started here, as the tests
do); ray without an address (orch starts and stops a local instance). Per-job seconds are each
result's provenance `wall_seconds` (executor start to validated result, on the host); the rest of
each run is CLI start, planning, connecting, committing. The venv cache is the user's (built on first use).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.ray_cluster import LoopbackCluster  # noqa: E402  (the tests' loopback-only cluster)


def run(env: dict, *args: str) -> tuple[float, list[float]]:
    """(wall seconds of the whole `orch run`, per-job seconds from each result's provenance)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "run", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"orch run {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    results = Path(env["ORCH_RESULTS_DIR"]).glob("*/result.json")
    return wall, [json.loads(file.read_text())["provenance"]["wall_seconds"] for file in results]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    selection = ["logreg-h1", "--seeds", str(args.seeds), "-j", "1", "--force"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ORCH_DATA_DIR": f"{tmp}/data", "RAY_AUTH_MODE": "token"}
        subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "data", "build"],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        run({**env, "ORCH_RESULTS_DIR": f"{tmp}/warm"}, "logreg-h1", "--executor", "native")  # venv built once
        native = run({**env, "ORCH_RESULTS_DIR": f"{tmp}/native"}, *selection, "--executor", "native")
        cluster = LoopbackCluster(env)
        cluster_started = time.perf_counter()
        cluster.start()
        cluster_seconds = time.perf_counter() - cluster_started
        try:
            run(
                {**env, "ORCH_RESULTS_DIR": f"{tmp}/warm-ray"},
                "logreg-h1",
                "--executor",
                "ray",
                "--ray-address",
                cluster.address,
            )  # the node's first task imports the job code
            on_cluster = run(
                {**env, "ORCH_RESULTS_DIR": f"{tmp}/ray"},
                *selection,
                "--executor",
                "ray",
                "--ray-address",
                cluster.address,
            )
        finally:
            cluster.stop()
        local = run({**env, "ORCH_RESULTS_DIR": f"{tmp}/local"}, *selection, "--executor", "ray")
    med = statistics.median
    n = args.seeds
    print(f"logreg-h1, {n} jobs one at a time (bundled S&P 500, quick profile); {os.cpu_count()} CPUs")
    print(f"native                        per job median {med(native[1]):.2f}s   whole run {native[0]:.1f}s")
    print(f"ray, existing 2-node cluster  per job median {med(on_cluster[1]):.2f}s   whole run {on_cluster[0]:.1f}s")
    print(f"ray, local (no address)       per job median {med(local[1]):.2f}s   whole run {local[0]:.1f}s")
    print(
        f"ray per-job overhead vs native: {med(on_cluster[1]) - med(native[1]):+.2f}s "
        "(task submit, worker, env/code checks, dataset hash, files back)"
    )
    print(
        f"ray per-run overhead (connect, code upload): "
        f"{(on_cluster[0] - sum(on_cluster[1])) - (native[0] - sum(native[1])):+.1f}s"
    )
    print(
        f"local instance start+stop per run: {(local[0] - sum(local[1])) - (on_cluster[0] - sum(on_cluster[1])):+.1f}s; "
        f"starting the 2-node test cluster took {cluster_seconds:.1f}s"
    )


if __name__ == "__main__":
    main()
