"""Docker figures: image sizes, cold/warm build times, per-job container overhead.

    python benchmarks/bench_docker.py [--envs sklearn,torch] [--cold] [--repeat 5] [--json]

Needs a running engine (CI: .ci/docker-setup.sh; set ORCH_BASE_IMAGE when no registry is reachable).
Overhead is measured in the same run against a bare `docker run --rm IMAGE true`:
  bare        docker run --rm IMAGE true
  executor    DockerExecutor.execute with the container command `true` (mounts, limits, --user,
              --network none, then inspect + rm): what the executor adds per job
  job         DockerExecutor.execute of the real logreg-h1 job; overhead = wall - the job's own
              total_seconds (container start, interpreter start, imports before the job clock starts)
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.data.bundled import build_default_dataset
from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.base import JobRequest
from orchestrator.executors.docker import DockerExecutor
from orchestrator.executors.engine import engine_status
from orchestrator.executors.images import ImageBuilder, image_id
from orchestrator.registry import BY_SLUG
from orchestrator.runs import plan_run


def timed(func, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return times


def summary(times: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "n": len(times),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--envs", default="sklearn", help="comma-separated envs to build/measure")
    parser.add_argument("--cold", action="store_true", help="also time a cold build (--no-cache) of each env")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ok, detail = engine_status()
    if not ok:
        print(f"no Docker engine: {detail}", file=sys.stderr)
        return 2
    report: dict = {"engine": detail, "base_image": os.environ.get("ORCH_BASE_IMAGE", "python:3.11-slim"), "images": {}}
    builder = ImageBuilder()
    quiet = lambda line: None  # noqa: E731
    for name in args.envs.split(","):
        env = ENVIRONMENTS[name]
        entry: dict = {}
        if args.cold:
            cold = builder.ensure(env, quiet, force=True, no_cache=True)
            entry["cold_build_s"] = round(cold.seconds, 1)
        first = builder.ensure(env, quiet)
        if first.built:
            entry["first_build_s"] = round(first.seconds, 1)
        started = time.perf_counter()
        warm = builder.ensure(env, quiet)
        entry["warm_check_s"] = round(time.perf_counter() - started, 3)  # image exists: hash inputs + inspect
        cached = builder.ensure(env, quiet, force=True)
        entry["layer_cached_rebuild_s"] = round(cached.seconds, 1)  # what a job-code change costs
        entry.update(tag=warm.tag, size_mb=round(builder.size(warm.tag) / 1e6))
        report["images"][name] = entry
    base = os.environ.get("ORCH_BASE_IMAGE")
    if base and image_id(base):
        report["images"]["(base) " + base] = {"size_mb": round(builder.size(base) / 1e6)}

    image = builder.ensure(ENVIRONMENTS["sklearn"], quiet)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = build_default_dataset(tmp / "data")
        run = plan_run(BY_SLUG["logreg-h1"], manifest, "quick", 0, env_fingerprint=image.image_id)

        def request(i: int) -> JobRequest:
            staging = tmp / f"staging-{i}-{time.monotonic_ns()}"
            staging.mkdir()
            (staging / "spec.json").write_text(run.spec.model_dump_json())
            return JobRequest(
                run=run,
                staging=staging,
                data_dir=tmp / "data",
                weights_dir=None,
                threads=1,
                timeout_s=600,
                log_path=staging / "job.log",
            )

        subprocess.run(["docker", "run", "--rm", image.image_id, "true"], check=True)  # warm the page cache
        bare = timed(
            lambda: subprocess.run(["docker", "run", "--rm", "--network", "none", image.image_id, "true"], check=True),
            args.repeat,
        )
        noop = DockerExecutor(job_command=["true"])
        executor = timed(lambda: noop.execute(request(0)), args.repeat)
        python = timed(
            lambda: subprocess.run(
                [
                    "docker",
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    image.image_id,
                    "python",
                    "-c",
                    "import jobs.common.runner",
                ],
                check=True,
            ),
            args.repeat,
        )
        real = DockerExecutor()
        job_walls, job_inside = [], []
        for i in range(max(1, args.repeat // 2)):
            req = request(i)
            started = time.perf_counter()
            outcome = real.execute(req)
            job_walls.append(time.perf_counter() - started)
            assert outcome.ok, outcome
            job_inside.append(json.loads((req.staging / "result.json").read_text())["timings"]["total_seconds"])
    report["overhead"] = {
        "bare_docker_run_true": summary(bare),
        "executor_true": summary(executor),
        "executor_minus_bare_s": round(statistics.median(executor) - statistics.median(bare), 3),
        "container_python_import_job_code": summary(python),
        "logreg_job_wall": summary(job_walls),
        "logreg_job_own_total": summary(job_inside),
        "logreg_overhead_s": round(statistics.median(job_walls) - statistics.median(job_inside), 3),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, entry in report["images"].items():
            print(f"image {name}: " + ", ".join(f"{k}={v}" for k, v in entry.items()))
        for name, value in report["overhead"].items():
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
