"""`orch bench calibration`: the Monte Carlo of the report's own tests and verdict rules, small and fast."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from orchestrator.cli import cli
from tests.support.helpers import REPO


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
    assert calm.type_one <= 0.2 and calm.coverage >= 0.8
    assert calm.power_at_mde >= 0.5 and calm.mde > 0
    # strong autocorrelation: the block length the report picks grows
    sticky = bench.calibrate(bench.Scenario(seeds=1, rho=0.95, seed_sd=0.0, days=600, folds=2, resamples=100), 10, rng)
    assert sticky.median_block > 3 * calm.median_block
    text = bench.table([calm, sticky])
    assert "type I" in text and len(text.splitlines()) == 5 and "+-" in text.splitlines()[-1]


def test_rule_cells_pin_the_planted_statuses():
    """Identical near-copies: D2 never says "no"; one model 1.5x D1's margin better: D1 says "yes"."""
    bench = _bench()
    rng = np.random.default_rng(2)
    scenario = bench.Scenario(seeds=1, rho=0.0, seed_sd=0.0, days=2000, folds=8, resamples=100)
    rates = bench.rule_rates(scenario, 4, rng)
    assert rates["D2 no (identical models)"][0] == 0.0
    assert rates["D1 yes (gain 1.5x margin)"][0] >= 0.5
    size, power = bench.near_copy(scenario, 6, rng)
    assert size <= 0.5 and power >= 0.5
    picks = bench.selection_type_one(scenario, 3, rng)
    assert set(picks) == {"earliest fold's validation (the report)", "validation averaged over folds"}
    assert all(0.0 <= rate <= 1.0 and abs(bias) < 0.1 for rate, bias in picks.values())


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
            "--rule-replications",
            "2",
            "--resamples",
            "50",
            "--days",
            "400",
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
    assert "type I" in done.stdout and "D2 no (identical models)" in done.stdout
    assert "B1 type I, all equal, pick by earliest fold's validation" in done.stdout
