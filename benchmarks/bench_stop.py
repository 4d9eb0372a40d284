"""Stop latency of `orch run` under CPU load, and the commit race, as printed figures.

    python benchmarks/bench_stop.py [--load 8] [--repeat 3] [--commits 600] [--json]

stop:    `orch run gboost-h1 gboost-h3 --jobs 2` (native, long training) while --load busy-loop
         processes keep the CPUs saturated; once both jobs have printed their first log line,
         SIGINT goes to orch and the time until orch has exited (jobs stopped, failures recorded)
         is measured. Also the time until no job process is left after `kill -9` of orch.
commits: two processes commit the same run --commits/2 times each, all at once; failures and
         leftover trash folders are counted.
"""

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.data.bundled import build_default_dataset
from orchestrator.registry import BY_SLUG
from orchestrator.results import RESULT_FILE, ResultStore
from orchestrator.runs import plan_run

REPO = Path(__file__).resolve().parent.parent
BUSY = "while True: pass"
WAIT_LIMIT = 600


def wait_until(condition, limit: float = WAIT_LIMIT) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {limit}s")
        time.sleep(0.05)


def jobs_started(staging: Path, count: int) -> bool:
    return len([log for log in staging.glob("*/job.log") if "[job] " in log.read_text()]) >= count


def job_processes(staging: Path) -> bool:
    found = subprocess.run(["pgrep", "-f", f"jobs run --spec {staging}"], capture_output=True, text=True)
    return bool(found.stdout.split())


def stop_once(home: Path, env: dict, hard: bool) -> float:
    results = home / f"results-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "run",
            "gboost-h1",
            "gboost-h3",
            "--jobs",
            "2",
            "--set",
            "max_iter=100000",
        ],
        cwd=REPO,
        env={**env, "ORCH_RESULTS_DIR": str(results)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    staging = results / ".staging"
    wait_until(lambda: jobs_started(staging, 2))
    started = time.perf_counter()
    if hard:
        process.kill()
        process.wait(timeout=WAIT_LIMIT)
        wait_until(lambda: not job_processes(staging))
    else:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=WAIT_LIMIT)
    return time.perf_counter() - started


def _commit_many(root: str, run, commits: int, barrier, failures) -> None:
    store = ResultStore(Path(root))
    barrier.wait()
    for i in range(commits):
        try:
            staging = store.new_staging(run)
            (staging / RESULT_FILE).write_text(json.dumps({"i": i}))
            store.commit(staging, run)
        except Exception:
            failures.put(1)


def commit_race(run, commits: int) -> dict:
    context = multiprocessing.get_context("fork")
    failed = leftovers = 0
    per_round = 100
    for _ in range(max(1, commits // per_round)):
        root = tempfile.mkdtemp()
        barrier, failures = context.Barrier(2), context.Queue()
        workers = [
            context.Process(target=_commit_many, args=(root, run, per_round // 2, barrier, failures)) for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        while not failures.empty():
            failed += failures.get()
        leftovers += len(list((Path(root) / ".staging").iterdir()))
    return {
        "tries": max(1, commits // per_round) * per_round,
        "failures": failed,
        "leftover_staging_entries": leftovers,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", type=int, default=8, help="busy-loop processes running meanwhile")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--commits", type=int, default=600)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-stop-"))
    data = home / "data"
    manifest = build_default_dataset(data)
    env = {**os.environ, "ORCH_DATA_DIR": str(data), "ORCH_EXECUTOR": "native"}
    run = plan_run(BY_SLUG["logreg-h1"], manifest, "quick", 0, env_fingerprint="bench")
    figures = {"commit_race": commit_race(run, args.commits)}

    stop_once(home, env, hard=False)  # builds the sklearn venv if needed; not measured
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.load)]
    try:
        sigint = [stop_once(home, env, hard=False) for _ in range(args.repeat)]
        kill9 = [stop_once(home, env, hard=True) for _ in range(args.repeat)]
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    figures["load_processes"] = args.load
    figures["sigint_to_exit_s"] = {"median": statistics.median(sigint), "max": max(sigint), "runs": sigint}
    figures["kill9_to_no_job_s"] = {"median": statistics.median(kill9), "max": max(kill9), "runs": kill9}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    race = figures["commit_race"]
    print(
        f"commit race: {race['failures']} failures in {race['tries']} concurrent commits, "
        f"{race['leftover_staging_entries']} leftover staging entries"
    )
    for name, label in (
        ("sigint_to_exit_s", "SIGINT -> orch exited"),
        ("kill9_to_no_job_s", "kill -9 orch -> no job left"),
    ):
        f = figures[name]
        print(
            f"{label} under {args.load} busy processes: median {f['median']:.2f}s, max {f['max']:.2f}s "
            f"({', '.join(f'{v:.2f}' for v in f['runs'])})"
        )


if __name__ == "__main__":
    main()
