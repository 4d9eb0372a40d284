"""CPU throughput and memory of every torch model at one size (default 2M parameters):
training windows/s (forward + backward + AdamW step) and inference windows/s (no_grad) on random
(batch, 80, 25) inputs, plus peak resident memory.

Memory is resource.getrusage(RUSAGE_SELF).ru_maxrss (peak RSS) measured as a delta: each model
runs in a fresh process, and the delta is taken from just after the model, optimiser and input
were built. Inference runs first, so its delta is its own peak; the training delta includes the
AdamW state and the stored activations. Throughput is for random weights: speed does not
depend on their values.

    PYTHONPATH=. python benchmarks/bench_torch.py [--models patchtst,dlinear] [--size 2000000]
        [--batches 3] [--batch-size 64] [--threads 1] [--device cpu|cuda] [--precision fp32|bf16]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * MAXRSS_UNIT / 2**20


def measure(
    model_name: str,
    size: int,
    batches: int,
    batch_size: int,
    threads: int,
    device: str = "cpu",
    precision: str = "fp32",
) -> dict:
    """One model, in this (fresh) process, with the job's own optimiser and autocast rules
    (bf16 = autocast to bfloat16, on CPU too when asked, so its speed can be compared)."""
    import contextlib

    import torch
    import torch.nn.functional as F

    from jobs.torch_models.sizing import sized_config
    from jobs.torch_models.trainer import make_optimiser
    from jobs.torch_models.zoo import ARCHITECTURES

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    architecture = ARCHITECTURES[model_name]
    model = architecture.model(sized_config(architecture, size)).to(device)
    optimiser = make_optimiser(model, lr=1e-4, weight_decay=0.05)
    x = torch.randn(batch_size, 80, 25, device=device)
    y = (torch.rand(batch_size, device=device) > 0.5).float()
    cast = (
        torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
        if precision == "bf16"
        else contextlib.nullcontext()
    )
    synchronize = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    baseline = peak_rss_mib()

    model.eval()
    with torch.no_grad(), cast:
        model(x)  # warm-up
        synchronize()
        started = time.perf_counter()
        for _ in range(batches):
            model(x)
        synchronize()
        inference_seconds = time.perf_counter() - started
    inference_peak = peak_rss_mib()

    model.train()

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with cast:
            logits = model(x)
        F.binary_cross_entropy_with_logits(logits.float(), y).backward()
        optimiser.step()

    step()  # warm-up, and allocates the AdamW state
    synchronize()
    started = time.perf_counter()
    for _ in range(batches):
        step()
    synchronize()
    train_seconds = time.perf_counter() - started
    return {
        "model": model_name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_windows_per_s": batches * batch_size / train_seconds,
        "inference_windows_per_s": batches * batch_size / inference_seconds,
        "inference_peak_mib": inference_peak - baseline,
        "train_peak_mib": peak_rss_mib() - baseline,
    }


def main() -> None:
    from jobs.catalog import MODELS  # no torch import in the parent

    torch_models = [m.name for m in MODELS if m.architecture is not None]

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(torch_models))
    parser.add_argument("--size", type=int, default=2_000_000)
    parser.add_argument("--batches", type=int, default=3, help="timed batches per phase, after one warm-up")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(
            json.dumps(
                measure(
                    args.worker, args.size, args.batches, args.batch_size, args.threads, args.device, args.precision
                )
            )
        )
        return

    print(
        f"size {args.size:,} | batch {args.batch_size} x (80, 25) | {args.batches} timed batches | "
        f"{args.threads} thread(s) | {args.device} {args.precision} | memory: ru_maxrss delta, fresh process per model"
    )
    print(
        f"{'model':16s} {'params':>10s} {'train win/s':>12s} {'infer win/s':>12s} {'train MiB':>10s} {'infer MiB':>10s}"
    )
    for name in args.models.split(","):
        command = [
            sys.executable,
            __file__,
            "--worker",
            name,
            "--size",
            str(args.size),
            "--batches",
            str(args.batches),
            "--batch-size",
            str(args.batch_size),
            "--threads",
            str(args.threads),
            "--device",
            args.device,
            "--precision",
            args.precision,
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(args.threads)}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            print(f"{name:16s} failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{row['model']:16s} {row['parameters']:>10,} {row['train_windows_per_s']:>12.0f} "
            f"{row['inference_windows_per_s']:>12.0f} {row['train_peak_mib']:>10.0f} {row['inference_peak_mib']:>10.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
