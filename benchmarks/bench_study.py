"""The whole study's speed in one run (`orch bench study` calls this script):

1. per model, training windows/s at fp32 and bf16, batch 64 and 256 (bench_torch.py's worker,
   a fresh process per figure, in the torch environment's interpreter);
2. with --load N: one model's training windows/s idle and with N busy processes beside it, with
   the old thread policy (every core, spinning OpenMP threads) and the new one (threads from the
   cores free at start, passive waiting);
3. the end-to-end study: `orch run SELECTION --force` in a throw-away results folder, its wall
   time, each job's wall time split into start-up / data / train / predict, and GPU utilisation
   sampled with nvidia-smi while it runs (CUDA only).

One row per experiment, summed over its seeds (one process per seed, or one for all of them when
seeds are grouped): wall = the processes' wall time seen by the scheduler; start-up = wall minus
the jobs' own totals (process start, interpreter, host-side validation and commit); data = the
jobs' totals minus train and predict (the model stack's import, dataset load, windows, sizing,
writing results); train and predict as the jobs measured them.

    python benchmarks/bench_study.py [--device cpu|cuda] [--models patchtst,timemixer] [--size 2000000]
        [--study 'patchtst-h1 timemixer-h1'] [--profile quick] [--seeds 1] [-j 1] [--load 0]
        [--python PATH] [--repo PATH]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.cpu_threads import choose_threads, thread_env, usable_cores  # noqa: E402

BENCH_TORCH = REPO / "benchmarks" / "bench_torch.py"


def torch_python() -> str:
    """The torch environment's interpreter (the venv jobs use), built on first use."""
    from orchestrator.environments import ENVIRONMENTS
    from orchestrator.executors.native import VenvManager

    return str(VenvManager().ensure(ENVIRONMENTS["torch"], lambda line: print(f"[bench] {line}", flush=True)))


def windows_per_s(
    python: str,
    model: str,
    size: int,
    batches: int,
    batch: int,
    threads: int,
    device: str,
    precision: str,
    env_extra: dict[str, str],
) -> float | None:
    command = [
        python,
        str(BENCH_TORCH),
        "--worker",
        model,
        "--size",
        str(size),
        "--batches",
        str(batches),
        "--batch-size",
        str(batch),
        "--threads",
        str(threads),
        "--device",
        device,
        "--precision",
        precision,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), **env_extra}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["train_windows_per_s"]


def kernel_table(args, python: str) -> None:
    threads = usable_cores()
    env = thread_env(threads)
    print(
        f"\n## Training windows/s ({args.device}, size {args.size:,}, {threads} thread(s), "
        f"{args.batches} timed steps after a warm-up)"
    )
    print(f"{'model':16s} {'fp32 b64':>10s} {'bf16 b64':>10s} {'fp32 b256':>10s} {'bf16 b256':>10s}")
    for model in args.models.split(","):
        cells = []
        for batch in (64, 256):
            for precision in ("fp32", "bf16"):
                value = windows_per_s(
                    python, model, args.size, args.batches, batch, threads, args.device, precision, env
                )
                cells.append("failed" if value is None else f"{value:.0f}")
        print(f"{model:16s} {cells[0]:>10s} {cells[1]:>10s} {cells[2]:>10s} {cells[3]:>10s}", flush=True)


def start_load(n: int) -> list[subprocess.Popen]:
    """N busy processes: the 'machine other work keeps busy' of the issue."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop_load(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def load_table(args, python: str) -> None:
    model = args.models.split(",")[0]
    cores = usable_cores()
    old = {name: str(cores) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")} | {"OMP_WAIT_POLICY": "ACTIVE"}
    print(f"\n## Busy machine: {model} training windows/s, batch 64, fp32, idle vs {args.load} busy processes")
    print(f"{'machine':10s} {'policy':44s} {'threads':>7s} {'windows/s':>10s}")
    for label, load in (("idle", 0), ("loaded", args.load)):
        loaders = start_load(load)
        try:
            time.sleep(1.0 if load else 0.0)  # let the loaders take their cores before choosing
            chosen = choose_threads(1, 0).threads
            for policy, threads, env in (
                ("old: every core, OpenMP spin-waits", cores, old),
                ("new: free cores at start, passive wait", chosen, thread_env(chosen)),
            ):
                value = windows_per_s(python, model, args.size, args.batches, 64, threads, args.device, "fp32", env)
                print(
                    f"{label:10s} {policy:44s} {threads:>7d} {'failed' if value is None else f'{value:.1f}':>10s}",
                    flush=True,
                )
        finally:
            stop_load(loaders)


class GpuSampler:
    """nvidia-smi utilisation every half second while the study runs (nothing without CUDA)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.samples: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(0.5):
            done = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
            )
            values = [float(v) for v in done.stdout.split() if v.replace(".", "", 1).isdigit()]
            if values:
                self.samples.append(statistics.mean(values))

    def __enter__(self) -> "GpuSampler":
        if self.enabled:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.enabled:
            self.thread.join(timeout=5)

    def describe(self) -> str:
        if not self.enabled:
            return "n/a (no CUDA device)"
        if not self.samples:
            return "no samples"
        return (
            f"mean {statistics.mean(self.samples):.0f}%, max {max(self.samples):.0f}% over {len(self.samples)} samples"
        )


def study(args) -> None:
    repo = Path(args.repo).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ORCH_RESULTS_DIR": tmp, "PYTHONPATH": str(repo)}
        if args.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""  # jobs and GPU slots see no device
        command = [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "run",
            *args.study.split(),
            "--profile",
            args.profile,
            "--seeds",
            str(args.seeds),
            "-j",
            str(args.jobs),
            "--force",
            "--executor",
            "native",
            "--keep-going",
            "--json",
        ]
        print(
            f"\n## Study: orch run {args.study} --profile {args.profile} --seeds {args.seeds} -j {args.jobs} "
            f"(code: {repo})",
            flush=True,
        )
        started = time.perf_counter()
        with GpuSampler(args.device == "cuda") as gpu:
            done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 2):
            print(f"study failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            return
        summary = json.loads(done.stdout[done.stdout.index('{\n  "seconds"') :])
        results = {}
        for folder in Path(tmp).iterdir():
            if (folder / "result.json").is_file():
                result = json.loads((folder / "result.json").read_text())
                results[(result["spec"]["slug"], result["spec"]["seed"])] = result
        print(
            f"{'experiment':18s} {'seeds':>5s} {'ok':>3s} {'wall s':>7s} {'start-up':>8s} {'data':>6s} {'train':>7s} "
            f"{'predict':>7s}"
        )
        per_experiment: dict[str, list] = {}
        for row in summary["experiments"]:
            per_experiment.setdefault(row["slug"], []).append(row)
        for slug, rows in per_experiment.items():
            finished = [
                (float(r["seconds"]), results[(slug, int(r["seed"]))]["timings"])
                for r in rows
                if r["status"] == "ok" and (slug, int(r["seed"])) in results
            ]
            if not finished:
                print(f"{slug:18s} {len(rows):>5d} {0:>3d}")
                continue
            job_wall = sum(seconds for seconds, _ in finished)
            train = sum(t["train_seconds"] for _, t in finished)
            predict = sum(t["predict_seconds"] for _, t in finished)
            data = sum(t["total_seconds"] for _, t in finished) - train - predict
            print(
                f"{slug:18s} {len(rows):>5d} {len(finished):>3d} {job_wall:7.1f} {job_wall - data - train - predict:8.1f} "
                f"{data:6.1f} {train:7.1f} {predict:7.1f}"
            )
        print(
            f"end-to-end study time: {wall:.1f}s (orch's own count: {summary['seconds']:.1f}s); "
            f"GPU utilisation: {gpu.describe()}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--models",
        default="patchtst,itransformer,timemixer,informer,autoformer,fedformer,etsformer,crossformer,dlinear",
    )
    parser.add_argument("--size", type=int, default=2_000_000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--study", default="--all", help="what `orch run` selects (default: --all)")
    parser.add_argument("--profile", choices=["quick", "full"], default="quick")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("-j", "--jobs", type=int, default=1)
    parser.add_argument("--load", type=int, default=0, help="busy processes for the idle-vs-loaded comparison")
    parser.add_argument("--skip-kernels", action="store_true")
    parser.add_argument("--skip-study", action="store_true")
    parser.add_argument(
        "--python", help="interpreter with torch for the kernel figures (default: the torch env's venv)"
    )
    parser.add_argument("--repo", default=str(REPO), help="run the study with the code of this checkout (before/after)")
    args = parser.parse_args()
    print(
        f"# orch bench study: device {args.device}, {usable_cores()} usable core(s), load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    python = None if args.skip_kernels and not args.load else (args.python or torch_python())
    if not args.skip_kernels:
        kernel_table(args, python)
    if args.load:
        load_table(args, python)
    if not args.skip_study:
        study(args)


if __name__ == "__main__":
    main()
