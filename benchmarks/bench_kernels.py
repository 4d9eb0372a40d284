"""Whole-job timings of the CPU kernels' fast form against its textbook form (issue 34 item 3).

A kernel stays only where a whole job, not a micro-benchmark, shows that it pays (5% or more).
Each run is one fresh process that runs one job end to end on the bundled data (`run_job`, as a
native job runs), in the variant named; the parent times the process and reads the job's own
train/predict seconds. Variants run in turn, fast and textbook alternating, `--repeats` times, so
load from other work on a shared machine falls on both; every figure is reported as its range.

Variants:
* fast / textbook: the declared switch, `cpu_kernels` (jobs/torch_models/kernels.py).
* spin / nospin: libgomp's GOMP_SPINCOUNT=10000 against 0 (both with OMP_WAIT_POLICY=PASSIVE), the
  setting a native job got on a quiet machine before issue 34 (orchestrator/cpu_threads.py).
The kernels removed by issue 34 were measured with commit d72c252's version of this script, which
also ran `fast-no-<kernel>` variants (fast with one kernel in its textbook form).

The full profile runs with epochs=1 (2M parameters, dropout 0.1), the quick profile as declared
(dropout 0, 1,500 windows, 4 epochs); `--set KEY=VALUE` adds a hyper-parameter to every job (the
issue 34 table: `--set max_train_windows=512` for the full profile on a loaded 2-core machine).
Figures: the job process's CPU seconds (user + system, all threads), which load from other work
disturbs least, and its wall seconds.

    python benchmarks/bench_kernels.py --models patchtst,itransformer --profiles quick,full \\
        --variants fast,textbook [--repeats 2] [--threads 2] [--out table.json]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPIN = {"spin": "10000", "nospin": "0"}


def spec_file(model: str, profile: str, variant: str, data_dir: Path, folder: Path, extra: dict) -> Path:
    """The spec `orch run <model>-h1 --profile <profile> --set ...` writes (full: epochs=1), in `variant`."""
    from orchestrator import registry
    from orchestrator.runs import make_spec
    from shared_schema import DatasetManifest

    manifest = DatasetManifest.model_validate_json(next(data_dir.glob("*.manifest.json")).read_text())
    experiment = next(e for e in registry.EXPERIMENTS if e.model == model and e.horizon == 1)
    overrides = {**({"epochs": 1} if profile == "full" else {}), **extra}
    if variant == "textbook":
        overrides["cpu_kernels"] = variant
    spec = make_spec(experiment, manifest, profile, registry.DEFAULT_SEED, overrides=overrides)
    path = folder / "spec.json"
    path.write_text(spec.model_dump_json())
    return path


def worker(model: str, profile: str, variant: str, data_dir: Path, extra: dict) -> None:
    """One job in this process; prints the job's own seconds as JSON."""
    from jobs.common.runner import run_job

    with tempfile.TemporaryDirectory() as folder:
        spec = spec_file(model, profile, variant, data_dir, Path(folder), extra)
        result = run_job(spec, data_dir, Path(folder) / "out", None)
    print(json.dumps({"train_s": result.timings.train_seconds, "predict_s": result.timings.predict_seconds}))


def run_once(model: str, profile: str, variant: str, data_dir: Path, threads: int, extra: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    env["GOMP_SPINCOUNT"] = SPIN.get(variant, "0")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--worker", model, profile, variant, str(data_dir), json.dumps(extra)],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{model} {profile} {variant}: {done.stderr.strip().splitlines()[-1]}")
    return {"wall_s": wall, "cpu_s": cpu, **json.loads(done.stdout.strip().splitlines()[-1])}


def check_variants(variants: list[str]) -> None:
    """Refuse an unknown variant before any job runs (one line, exit 2)."""
    known = ["fast", "textbook", *SPIN]
    unknown = [v for v in variants if v not in known]
    if unknown:
        print(f"--variants: unknown {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        raise SystemExit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="patchtst")
    parser.add_argument("--profiles", default="quick,full")
    parser.add_argument("--variants", default="fast,textbook")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, help="a built dataset folder (default: build the bundled one)")
    parser.add_argument("--out", type=Path, help="also write every run's figures here as JSON")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a hyper-parameter for every job (JSON value)"
    )
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, profile, variant, data, extra = args.worker
        worker(model, profile, variant, Path(data), json.loads(extra))
        return

    check_variants(args.variants.split(","))
    extra = {key: json.loads(value) for key, _, value in (pair.partition("=") for pair in args.set)}
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data
        if data_dir is None:
            from orchestrator.data.bundled import build_default_dataset

            data_dir = Path(scratch)
            build_default_dataset(data_dir)
        rows = []
        for model in args.models.split(","):
            for profile in args.profiles.split(","):
                runs: dict[str, list[dict]] = {v: [] for v in args.variants.split(",")}
                for _ in range(args.repeats):
                    for variant in runs:  # alternating, so load falls on every variant
                        runs[variant].append(run_once(model, profile, variant, data_dir, args.threads, extra))
                        print(f"[bench] {model} {profile} {variant}: {runs[variant][-1]}", flush=True)
                rows.append({"model": model, "profile": profile, "runs": runs})
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


def table(rows: list[dict]) -> str:
    """Per model, profile and variant: CPU seconds of the whole job (user + system, all threads:
    the figure other work on the machine disturbs least) and wall seconds, each as its range, and the
    mean CPU time against the first variant's."""
    lines = ["| model | profile | variant | job CPU s | x first | wall s |", "|---|---|---|---|---|---|"]
    for row in rows:
        base = statistics.mean(r["cpu_s"] for r in next(iter(row["runs"].values())))
        for variant, runs in row["runs"].items():
            cpu, wall = [r["cpu_s"] for r in runs], [r["wall_s"] for r in runs]
            lines.append(
                f"| {row['model']} | {row['profile']} | {variant} | {min(cpu):.1f}-{max(cpu):.1f} "
                f"| x{statistics.mean(cpu) / base:.2f} | {min(wall):.1f}-{max(wall):.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
