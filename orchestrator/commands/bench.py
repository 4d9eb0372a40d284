"""`orch bench study` (the whole study's speed figures, benchmarks/bench_study.py) and `orch bench
calibration` (the report's tests checked by Monte Carlo, benchmarks/bench_calibration.py)."""

import subprocess
import sys

import click

from orchestrator.errors import UserError
from orchestrator.gpu_slots import discover_gpus
from orchestrator.paths import CODE_ROOT


@click.group("bench")
def bench_group() -> None:
    """Speed figures (the scripts live in benchmarks/)."""


@bench_group.command("study")
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda"]),
    default=None,
    help="default: cuda when nvidia-smi finds a GPU, else cpu",
)
@click.option("--models", default=None, help="comma-separated torch models for the windows/s table (default: all)")
@click.option(
    "--size",
    type=click.IntRange(min=1_000),
    default=2_000_000,
    show_default=True,
    help="parameters per model in the windows/s table",
)
@click.option("--study", "selection", default="--all", show_default=True, help="what the end-to-end `orch run` selects")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--load",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="busy processes for the idle-vs-loaded thread-policy comparison (0: skip it)",
)
@click.option("--skip-kernels", is_flag=True, help="no windows/s table")
@click.option("--skip-study", is_flag=True, help="no end-to-end run")
def study_command(*, device, models, size, selection, profile, seeds, jobs, load, skip_kernels, skip_study) -> None:
    """Per-model training windows/s (fp32/bf16, batch 64/256), per-job start-up/data/train/predict,
    GPU utilisation and the end-to-end study time, in one run."""
    has_cuda = bool([d for d in discover_gpus() if d.index != "mps"])
    device = device or ("cuda" if has_cuda else "cpu")
    if device == "cuda" and not has_cuda:
        raise UserError("--device cuda: nvidia-smi finds no CUDA device here; use --device cpu")
    command = [
        sys.executable,
        str(CODE_ROOT / "benchmarks" / "bench_study.py"),
        "--device",
        device,
        "--size",
        str(size),
        f"--study={selection}",  # one token: the default selection "--all" would read as an option
        "--profile",
        profile,
        "--seeds",
        str(seeds),
        "-j",
        str(jobs),
        "--load",
        str(load),
    ]
    if models:
        command += ["--models", models]
    command += ["--skip-kernels"] * skip_kernels + ["--skip-study"] * skip_study
    code = subprocess.run(command, cwd=CODE_ROOT).returncode
    if code != 0:
        raise UserError(f"benchmarks/bench_study.py exited with code {code}")


@bench_group.command("calibration")
@click.option(
    "--replications",
    type=click.IntRange(min=2),
    default=200,
    show_default=True,
    help="Monte Carlo replications per cell",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=50),
    default=400,
    show_default=True,
    help="bootstrap resamples per replication",
)
@click.option(
    "--days", type=click.IntRange(min=100), default=2000, show_default=True, help="test days per planted data set"
)
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    default=8,
    show_default=True,
    help="walk-forward test folds (and a single split)",
)
@click.option(
    "--seed-sd",
    type=click.FloatRange(min=0.0, max=0.2),
    default=0.03,
    show_default=True,
    help="seed-to-seed sd of a model's test AUC",
)
@click.option(
    "--rule-replications",
    type=click.IntRange(min=2),
    default=100,
    show_default=True,
    help="Monte Carlo replications of the rule cells (near-copy TOST, D2, D1, walk-forward selection)",
)
@click.option("--rhos", default="0,0.95", show_default=True, help="comma-separated AR(1) score autocorrelations")
@click.option("--seeds-list", default="1,3", show_default=True, help="comma-separated seed counts per model")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
def calibration_command(
    *, replications, rule_replications, resamples, days, folds, seed_sd, rhos, seeds_list, seed
) -> None:
    """Type-I error, interval coverage and power at the printed detectable difference of the report's
    tests (single split and walk-forward), TOST on near-copies, and the D2 / D1 / walk-forward B1
    rules on planted models, with Monte Carlo errors (benchmarks/bench_calibration.py)."""
    for name, text, kind in (("--rhos", rhos, float), ("--seeds-list", seeds_list, int)):
        try:
            values = [kind(v) for v in text.split(",")]
        except ValueError:
            raise UserError(f"{name} {text!r}: expected comma-separated numbers") from None
        if name == "--rhos" and not all(0.0 <= v < 1.0 for v in values):
            raise UserError(f"--rhos {text!r}: each autocorrelation must be in [0, 1)")
        if name == "--seeds-list" and not all(v >= 1 for v in values):
            raise UserError(f"--seeds-list {text!r}: each seed count must be at least 1")
    command = [
        sys.executable,
        str(CODE_ROOT / "benchmarks" / "bench_calibration.py"),
        "--replications",
        str(replications),
        "--rule-replications",
        str(rule_replications),
        "--resamples",
        str(resamples),
        "--days",
        str(days),
        "--folds",
        str(folds),
        "--seed-sd",
        str(seed_sd),
        "--rhos",
        rhos,
        "--seeds-list",
        seeds_list,
        "--seed",
        str(seed),
    ]
    code = subprocess.run(command, cwd=CODE_ROOT).returncode
    if code != 0:
        raise UserError(f"benchmarks/bench_calibration.py exited with code {code}")
