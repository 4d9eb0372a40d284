"""`orch bench calibration`: the Monte Carlo of the report's own tests, in a small fast version."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from orchestrator.cli import cli
from tests.helpers import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("bench_calibration", REPO / "benchmarks" / "bench_calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_planted_difference_is_what_the_report_estimates():
    bench = _bench()
    scenario = bench.Scenario(seeds=3, rho=0.0, seed_sd=0.0, days=1500, folds=3, resamples=100)
    rng = np.random.default_rng(0)
    estimates = [bench._replicate(scenario, 0.05, rng)[0] for _ in range(20)]
    assert abs(np.mean(estimates) - 0.05) < 0.01  # the planted expected-AUC gap, recovered unbiased


def test_small_calibration_is_sane():
    bench = _bench()
    rng = np.random.default_rng(1)
    calm = bench.calibrate(bench.Scenario(seeds=1, rho=0.0, seed_sd=0.0, days=600, folds=2, resamples=100), 40, rng)
    assert calm.type_one <= 0.2 and calm.coverage >= 0.8 and calm.tost_at_margin <= 0.2
    assert calm.power_at_mde >= 0.5 and calm.mde > 0
    # strong autocorrelation: the block length the report picks grows
    sticky = bench.calibrate(bench.Scenario(seeds=1, rho=0.95, seed_sd=0.0, days=600, folds=2, resamples=100), 10, rng)
    assert sticky.median_block > 3 * calm.median_block
    assert "type I" in bench.table([calm, sticky]) and len(bench.table([calm, sticky]).splitlines()) == 5


def test_cli_runs_the_script_and_rejects_bad_input():
    outcome = CliRunner().invoke(cli, ["bench", "calibration", "--rhos", "1.5"])
    assert outcome.exit_code == 2 and outcome.output.strip().splitlines() == [
        "Error: --rhos '1.5': each autocorrelation must be in [0, 1)"
    ]
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "orch"),
            "bench",
            "calibration",
            "--replications",
            "3",
            "--resamples",
            "50",
            "--days",
            "200",
            "--folds",
            "2",
            "--rhos",
            "0",
            "--seeds-list",
            "1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "type I" in done.stdout and done.stdout.strip().splitlines()[-1].split()[0] == "1"
