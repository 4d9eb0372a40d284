"""Calibration of the report's own tests by Monte Carlo (`orch bench calibration` calls this script).

Each replication plants two models with a known difference in expected test AUC, scores them on
walk-forward test folds exactly as the report does (orchestrator.report.stats: fold-averaged AUC,
circular block bootstrap within folds with the Politis-White block lengths the report chooses,
seed variance s^2/k added with Welch-Satterthwaite df; orchestrator.report.verdicts: the rules'
Student-t p-values and power multipliers), and counts how often each test says what:

- type I: one-sided superiority test rejects at true difference 0 (nominal 0.05);
- coverage: the 95% t interval covers the true difference 0 (nominal 0.95);
- TOST at margin: equivalence is declared with the true difference exactly at the margin
  (2% of PatchTST's published H1 AUC; nominal <= 0.05);
- power at MDE: the superiority test rejects at the true difference the report would call
  detectable with 80% power (c(median df) x the median null SE; nominal 0.80).

Days: labels are 3-day overlapping windows (base rate ~0.2); scores = signal x label + noise, noise
AR(1) with coefficient rho (half shared by the two models, half their own), so AUC = Phi(signal /
sqrt 2) exactly. Seeds: each seed's signal is drawn around the model's, so that seed-to-seed AUC
has the requested sd; the estimand is the difference of the expected (over seeds) AUCs.

    python benchmarks/bench_calibration.py [--replications 200] [--resamples 400] [--days 2000]
        [--folds 8] [--seed-sd 0.03] [--rhos 0,0.5,0.95] [--seeds-list 1,3] [--seed 0]
"""

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal as scipy_signal
from scipy import stats as scipy_stats

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.report.plan import ALPHA, PLAN, PUBLISHED_PATCHTST_AUC  # noqa: E402
from orchestrator.report.stats import (  # noqa: E402
    fold_block_lengths,
    paired_auc_difference,
    stratified_block_counts,
)
from orchestrator.report.verdicts import null_p_value, power_multiplier  # noqa: E402

REFERENCE_SIGNAL = 1.0  # AUC 0.760
LABEL_WINDOW = 3
LABEL_CUT = 1.55  # P(max of 3 N(0,1) > 1.55) ~ 0.17
SHARED_NOISE = 0.5
SUPERIORITY = next(rule for rule in PLAN if rule.test == "superiority" and not rule.margin.relative)
EQUIVALENCE = next(rule for rule in PLAN if rule.test == "equivalence" and not rule.holm)
MARGIN = EQUIVALENCE.margin.points(1)


@dataclass(frozen=True)
class Scenario:
    seeds: int
    rho: float
    seed_sd: float  # seed-to-seed sd of a model's test AUC
    days: int
    folds: int
    resamples: int


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    type_one: float
    coverage: float
    tost_at_margin: float
    mde: float
    power_at_mde: float
    median_block: float
    replications: int


def _signal_sd(seed_sd: float) -> float:
    """Seed sd of the signal that gives `seed_sd` of AUC near the reference (delta method)."""
    return seed_sd / (scipy_stats.norm.pdf(REFERENCE_SIGNAL / np.sqrt(2)) / np.sqrt(2))


def _signal_for(difference: float, signal_sd: float) -> float:
    """Mean signal whose expected AUC exceeds the reference's by `difference`:
    E Phi((mu + tau Z) / sqrt 2) = Phi(mu / sqrt(2 + tau^2))."""
    scale = np.sqrt(2.0 + signal_sd**2)
    return float(scale * scipy_stats.norm.ppf(scipy_stats.norm.cdf(REFERENCE_SIGNAL / scale) + difference))


def _ar1(rho: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) rows with unit variance."""
    shocks = rng.standard_normal(shape) * np.sqrt(1.0 - rho**2)
    shocks[..., 0] = rng.standard_normal(shape[:-1])
    return scipy_signal.lfilter([1.0], [1.0, -rho], shocks, axis=-1) if rho else shocks


def _replicate(
    scenario: Scenario, difference: float, rng: np.random.Generator
) -> tuple[float, float, float, float, float, int]:
    """Estimate, SE, df, 95% interval and median block length of one planted data set, as the report computes them."""
    n = scenario.days
    shocks = rng.standard_normal(n + LABEL_WINDOW)
    y = np.lib.stride_tricks.sliding_window_view(shocks[1:], LABEL_WINDOW)[:n].max(axis=1) > LABEL_CUT
    folds = np.repeat(np.arange(scenario.folds), -(-n // scenario.folds))[:n]
    tau = _signal_sd(scenario.seed_sd)
    common = _ar1(scenario.rho, (n,), rng)

    def scores(mean_signal: float) -> np.ndarray:
        signals = mean_signal + tau * rng.standard_normal(scenario.seeds)
        own = _ar1(scenario.rho, (scenario.seeds, n), rng)
        return signals[:, None] * y + np.sqrt(SHARED_NOISE) * common + np.sqrt(1 - SHARED_NOISE) * own

    a, b = scores(_signal_for(difference, tau)), scores(REFERENCE_SIGNAL)
    blocks = fold_block_lengths(y, [a, b], folds)
    counts = stratified_block_counts(folds, scenario.resamples, blocks, rng)
    i = paired_auc_difference(y, a, b, counts=counts, folds=folds).interval
    return i.estimate, i.se, i.df, i.low, i.high, int(np.median(blocks))


def _superiority_multiplier(df: float) -> float:
    """power_multiplier of one unadjusted superiority test (level ALPHA, power 0.8) at `df`."""
    return float(scipy_stats.t.isf(ALPHA, df) + scipy_stats.t.ppf(0.8, df))


def calibrate(scenario: Scenario, replications: int, rng: np.random.Generator) -> Row:
    null = [_replicate(scenario, 0.0, rng) for _ in range(replications)]
    rejects = [null_p_value(SUPERIORITY, d, se, margin=0.0, df=df) < ALPHA for d, se, df, *_ in null]
    covered = [low <= 0.0 <= high for _, _, _, low, high, _ in null]
    at_margin = [_replicate(scenario, MARGIN, rng) for _ in range(replications)]
    tost = [null_p_value(EQUIVALENCE, d, se, margin=MARGIN, df=df) < ALPHA for d, se, df, *_ in at_margin]
    # The detectable difference the report prints for a single unadjusted superiority test.
    df = float(np.median([df for _, _, df, *_ in null]))
    multiplier = _superiority_multiplier(df)
    mde = multiplier * float(np.median([se for _, se, *_ in null]))
    at_mde = [_replicate(scenario, mde, rng) for _ in range(replications)]
    power = [null_p_value(SUPERIORITY, d, se, margin=0.0, df=df) < ALPHA for d, se, df, *_ in at_mde]
    return Row(
        scenario,
        float(np.mean(rejects)),
        float(np.mean(covered)),
        float(np.mean(tost)),
        mde,
        float(np.mean(power)),
        float(np.median([blocks for *_, blocks in null])),
        replications,
    )


def table(rows: list[Row]) -> str:
    header = (
        f"{'seeds':>5} {'rho':>5} {'seed sd':>7} {'days':>5} {'folds':>5} {'block':>5} | {'type I':>7} {'cover':>6} "
        f"{'TOST@m':>7} {'MDE':>7} {'power':>6} | reps"
    )
    lines = [
        header,
        f"{'':>5} {'':>5} {'':>7} {'':>5} {'':>5} {'':>5} | {'(0.05)':>7} {'(0.95)':>6} {'(<=.05)':>7} "
        f"{'':>7} {'(0.80)':>6} |",
        "-" * len(header),
    ]
    for r in rows:
        s = r.scenario
        lines.append(
            f"{s.seeds:>5} {s.rho:>5.2f} {s.seed_sd:>7.3f} {s.days:>5} {s.folds:>5} {r.median_block:>5.0f} | "
            f"{r.type_one:>7.3f} {r.coverage:>6.3f} {r.tost_at_margin:>7.3f} {r.mde:>7.4f} {r.power_at_mde:>6.3f} | "
            f"{r.replications}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=400)
    parser.add_argument("--days", type=int, default=2000)
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--seed-sd", type=float, default=0.03)
    parser.add_argument("--rhos", default="0,0.5,0.95")
    parser.add_argument("--seeds-list", default="1,3")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(
        f"Calibration of the report's tests: {args.replications} replications per cell, {args.resamples} bootstrap "
        f"resamples, margin {MARGIN:.4f} (2% of PatchTST's published H1 AUC {PUBLISHED_PATCHTST_AUC[1]}), alpha {ALPHA}, "
        f"TOST/superiority multipliers {power_multiplier(EQUIVALENCE):.3f}/{_superiority_multiplier(np.inf):.3f} at infinite df "
        f"(t quantiles at each replicate's Welch-Satterthwaite df)",
        flush=True,
    )
    rows = []
    started = time.monotonic()
    for seeds in (int(v) for v in args.seeds_list.split(",")):
        for rho in (float(v) for v in args.rhos.split(",")):
            scenario = Scenario(seeds, rho, args.seed_sd, args.days, args.folds, args.resamples)
            rows.append(calibrate(scenario, args.replications, rng))
            print(table(rows[-1:]).splitlines()[-1], f"  ({time.monotonic() - started:.0f}s)", flush=True)
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
