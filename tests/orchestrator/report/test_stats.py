"""The report's statistics on synthetic data whose truth is known."""

import numpy as np
import pytest
from scipy.stats import norm, t

from orchestrator.report import stats


def overlapping_labels_and_scores(rng, n=400, horizon=3, signal_a=1.0, signal_b=0.6, shared=0.6, persistence=0.5):
    """Days with H-day overlapping labels and serially correlated scores, like the real task.

    score = signal * y + noise, noise N(0, 1) marginally and independent of y, so the population
    AUC is exactly Phi(signal / sqrt(2)); `shared` correlates the two models' noise (paired data)."""
    shocks = rng.standard_normal(n + horizon)
    y = np.lib.stride_tricks.sliding_window_view(shocks[1:], horizon)[:n].max(axis=1) > 1.2

    def ar1(size):
        noise = np.empty(size)
        noise[0] = rng.standard_normal()
        innovations = rng.standard_normal(size) * np.sqrt(1 - persistence**2)
        for step in range(1, size):
            noise[step] = persistence * noise[step - 1] + innovations[step]
        return noise

    common = ar1(n)
    scores_a = signal_a * y + shared * common + np.sqrt(1 - shared**2) * ar1(n)
    scores_b = signal_b * y + shared * common + np.sqrt(1 - shared**2) * ar1(n)
    return y, scores_a, scores_b


def brute_force_auc(y, p):
    pos, neg = p[y], p[~y]
    return ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()


def test_auc_counts_ties_as_half_and_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.3
    p = np.round(rng.random(300) * 0.5 + 0.3 * y, 1)  # heavy ties
    assert stats.auc(y, p) == pytest.approx(brute_force_auc(y, p), abs=1e-12)
    assert np.isnan(stats.auc(np.ones(5, bool), np.arange(5.0)))


def test_resampled_auc_equals_auc_of_the_expanded_resample():
    rng = np.random.default_rng(1)
    y = rng.random(200) < 0.25
    p = np.round(rng.random(200) + 0.4 * y, 2)
    counts = stats.block_bootstrap_counts(200, 5, 7, rng)
    for row in range(5):
        expanded = np.repeat(np.arange(200), counts[row].astype(int))
        assert stats.resampled_auc(y, p, counts[row : row + 1])[0] == pytest.approx(
            stats.auc(y[expanded], p[expanded]), abs=1e-12
        )


def test_block_bootstrap_resamples_whole_circular_blocks():
    rng = np.random.default_rng(2)
    counts = stats.block_bootstrap_counts(50, 20, 10, rng)
    assert counts.shape == (20, 50) and (counts.sum(axis=1) == 50).all()
    # a block as long as the series is a rotation of it: every day exactly once
    assert (stats.block_bootstrap_counts(50, 3, 50, rng) == 1).all()


def test_planted_signal_is_declared_better_than_noise():
    rng = np.random.default_rng(3)
    y, informed, _ = overlapping_labels_and_scores(rng, signal_a=1.5)
    noise = rng.standard_normal(len(y))
    counts = stats.block_bootstrap_counts(len(y), 1000, 10, rng)
    result = stats.paired_auc_difference(y, informed, noise, counts=counts)
    assert result.interval.low > 0.1
    assert result.p_bootstrap < 1e-3 and result.p_delong < 1e-3


def test_identical_models_are_not_declared_different():
    rng = np.random.default_rng(4)
    y, scores, _ = overlapping_labels_and_scores(rng)
    counts = stats.block_bootstrap_counts(len(y), 500, 10, rng)
    result = stats.paired_auc_difference(y, scores, scores.copy(), counts=counts)
    assert result.interval.estimate == 0.0 and result.interval.low == 0.0 and result.interval.high == 0.0
    assert result.p_bootstrap == 1.0 and result.p_delong == 1.0
    # several seeds each, the same seeds on both sides: rounding must not make them 'different'
    seeds = np.vstack([scores + rng.standard_normal(len(y)) for _ in range(3)])
    result = stats.paired_auc_difference(y, seeds, seeds[::-1].copy(), counts=counts)
    assert result.p_bootstrap > 0.99 and result.p_delong > 0.99


def test_paired_interval_covers_the_true_difference_at_about_the_nominal_rate():
    truth = norm.cdf(1.0 / np.sqrt(2)) - norm.cdf(0.6 / np.sqrt(2))
    rng = np.random.default_rng(0)
    draws, covered = 200, 0
    for _ in range(draws):
        y, scores_a, scores_b = overlapping_labels_and_scores(rng)
        counts = stats.block_bootstrap_counts(len(y), 400, 10, rng)
        interval = stats.paired_auc_difference(y, scores_a, scores_b, counts=counts).interval
        covered += interval.low <= truth <= interval.high
    assert 0.88 <= covered / draws <= 0.99


def test_delong_on_a_hand_computed_case():
    # positives 0.9, 0.4; negatives 0.6, 0.1: AUC 3/4; placements [1, .5] and [.5, 1] -> var .125/2 + .125/2
    aucs, covariance = stats.delong_covariance(np.array([1, 1, 0, 0], bool), np.array([[0.9, 0.4, 0.6, 0.1]]))
    assert aucs[0] == pytest.approx(0.75)
    assert covariance[0, 0] == pytest.approx(0.125)


def test_delong_covariance_matches_the_pairwise_structural_components():
    rng = np.random.default_rng(5)
    y = rng.random(120) < 0.4
    scores = np.vstack([np.round(rng.random(120) + 0.3 * y, 1), np.round(rng.random(120) + 0.1 * y, 1)])
    kernel = [(s[y][:, None] > s[~y][None, :]) + 0.5 * (s[y][:, None] == s[~y][None, :]) for s in scores]
    v10 = np.vstack([k.mean(axis=1) for k in kernel])
    v01 = np.vstack([k.mean(axis=0) for k in kernel])
    expected = np.cov(v10) / y.sum() + np.cov(v01) / (~y).sum()
    aucs, covariance = stats.delong_covariance(y, scores)
    np.testing.assert_allclose(aucs, [brute_force_auc(y, s) for s in scores], atol=1e-12)
    np.testing.assert_allclose(covariance, expected, atol=1e-12)


def test_delong_agrees_with_the_bootstrap_on_independent_days_but_not_on_overlapping_ones():
    """Same standard error when days are independent; DeLong too small when they are not,
    which is why the block bootstrap is the primary test."""
    rng = np.random.default_rng(6)
    ratios = {}
    for persistence, horizon in ((0.0, 1), (0.8, 3)):
        boot, delong = [], []
        for _ in range(30):
            y, a, b = overlapping_labels_and_scores(rng, n=600, horizon=horizon, persistence=persistence)
            counts = stats.block_bootstrap_counts(len(y), 300, 1 if persistence == 0 else 20, rng)
            replicates = stats.resampled_auc(y, a, counts) - stats.resampled_auc(y, b, counts)
            _, covariance = stats.delong_covariance(y, np.vstack([a, b]))
            boot.append(replicates.std(ddof=1))
            delong.append(np.sqrt(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]))
        ratios[persistence] = np.mean(boot) / np.mean(delong)
    assert 0.9 < ratios[0.0] < 1.1
    assert ratios[0.8] > 1.2


def test_holm_adjustment_known_values_and_nan():
    adjusted = stats.holm_adjust([0.01, 0.04, 0.03, np.nan, 0.5])
    np.testing.assert_allclose(adjusted[[0, 1, 2, 4]], [0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adjusted[3])
    assert (stats.holm_adjust([0.3, 0.9]) <= 1.0).all()


def test_roc_curve_area_is_the_auc():
    rng = np.random.default_rng(7)
    y = rng.random(250) < 0.3
    p = np.round(rng.random(250) + 0.5 * y, 2)
    fpr, tpr = stats.roc_curve(y, p)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(stats.auc(y, p), abs=1e-12)


def test_mean_interval_of_a_constant_is_that_constant():
    counts = stats.block_bootstrap_counts(40, 50, 5, np.random.default_rng(8))
    interval = stats.mean_interval(np.full(40, 0.25), counts)
    assert interval.estimate == interval.low == interval.high == pytest.approx(0.25)


def test_stratified_counts_keep_every_fold_whole_and_fold_auc_ranks_within_folds():
    from orchestrator.report.stats import fold_auc, stratified_block_counts

    folds = np.repeat([0, 1, 2], [40, 25, 35])
    counts = stratified_block_counts(folds, 200, 10, np.random.default_rng(0))
    for fold, size in ((0, 40), (1, 25), (2, 35)):
        assert (counts[:, folds == fold].sum(axis=1) == size).all()  # no day crosses into another fold
    # fold-averaged AUC: a model ranking perfectly within each fold scores 1 even if its levels drift between folds
    y = np.array([0, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.8, 0.9])
    assert fold_auc(y, p, np.array([0, 0, 1, 1])) == 1.0 and fold_auc(y, p) == 0.75


def _ar1(rho: float, n: int, rng: np.random.Generator) -> np.ndarray:
    shocks = rng.standard_normal(n)
    x = np.zeros(n)
    for step in range(1, n):
        x[step] = rho * x[step - 1] + shocks[step]
    return x


def test_automatic_block_length_grows_with_planted_autocorrelation():
    from orchestrator.report.stats import automatic_block_length

    rng = np.random.default_rng(3)
    chosen = {
        rho: np.median([automatic_block_length(_ar1(rho, 2000, rng)) for _ in range(7)])
        for rho in (0.0, 0.5, 0.8, 0.95)
    }
    assert chosen[0.0] <= 3
    assert chosen[0.0] < chosen[0.5] < chosen[0.8] < chosen[0.95]
    # Politis-White's optimum for AR(1) with rho = 0.5: (2 G^2 / D)^(1/3) n^(1/3) = 17.5 at n = 2000
    assert 10 <= chosen[0.5] <= 26
    assert automatic_block_length(_ar1(0.99, 2000, rng)) <= int(np.ceil(3 * np.sqrt(2000)))  # bounded


def test_block_lengths_are_chosen_per_fold_from_the_paired_influence_series():
    from orchestrator.report.stats import fold_block_lengths

    rng = np.random.default_rng(4)
    n = 1500
    y = rng.random(2 * n) < 0.3
    smooth = np.r_[_ar1(0.9, n, rng), rng.standard_normal(n)]  # fold 0 autocorrelated, fold 1 not
    a = y + smooth + rng.standard_normal(2 * n) * 0.1
    b = y + rng.standard_normal(2 * n)
    folds = np.repeat([0, 1], n)
    first, second = fold_block_lengths(y, [a[None, :], b[None, :]], folds)
    assert first > 3 * second
    # identical scores: the paired series is zero, no dependence to keep
    assert fold_block_lengths(y, [a[None, :], a[None, :]], folds) == (1, 1)


def test_seed_variance_is_added_to_the_days_variance_with_welch_satterthwaite_df():
    """Planted: seeds of model a differ only in signal strength (all share one noise series), so on
    many days each seed's AUC is Phi(signal / sqrt 2) and their spread is the planted seed variance."""
    rng = np.random.default_rng(11)
    n = 20000
    y = rng.random(n) < 0.3
    noise = rng.standard_normal(n)
    signals = np.array([0.6, 1.0, 1.4])
    scores_a = signals[:, None] * y + noise
    scores_b = (0.8 * y + rng.standard_normal(n))[None, :]  # deterministic reference: one run, no seed part
    counts = stats.block_bootstrap_counts(n, 200, 1, np.random.default_rng(12))
    result = stats.paired_auc_difference(y, scores_a, scores_b, counts=counts)
    planted = float(np.var(norm.cdf(signals / np.sqrt(2)), ddof=1))
    seed_part = result.interval.se**2 - result.se_days**2
    assert seed_part == pytest.approx(planted / 3, rel=0.03)
    # df = SE^4 / ((s^2/k)^2 / (k - 1)), s^2 the raw spread of the per-seed AUCs, bootstrap parts infinite df
    spread = float(np.var([stats.auc(y, row) for row in scores_a], ddof=1))
    assert result.interval.df == pytest.approx(result.interval.se**4 / ((spread / 3) ** 2 / 2), rel=1e-9)
    assert 2 < result.interval.df < 10
    half = result.interval.high - result.interval.estimate
    assert half == pytest.approx(float(t.ppf(0.975, result.interval.df)) * result.interval.se, rel=1e-9)
    # one seed: nothing measurable, the days SE alone and the normal reference
    single = stats.paired_auc_difference(y, scores_a[:1], scores_b, counts=counts)
    assert single.interval.se == pytest.approx(single.se_days) and single.interval.df == np.inf
    # two columns of the same runs: the seed part is that of the per-seed differences (here zero)
    same = stats.paired_auc_difference(y, scores_a, scores_a + 0.0, counts=counts, same_seeds=True)
    assert same.interval.se == pytest.approx(0.0, abs=1e-12) and same.interval.df == np.inf


def test_three_seed_false_positive_rate_is_near_nominal():
    """Monte Carlo at true difference 0 with seed noise larger than day noise: the one-sided 5%
    superiority test on 3 vs 3 seeds. Resampling seeds inside the bootstrap (the old method) rejected
    0.095 of these 400 data sets; the t test on SE_days^2 + seed part must stay near 5% (0.05 measured)."""
    from orchestrator.report.plan import ALPHA, PLAN
    from orchestrator.report.verdicts import null_p_value

    superiority = next(rule for rule in PLAN if rule.test == "superiority" and not rule.margin.relative)
    rng = np.random.default_rng(2026)
    n, seeds, replications = 300, 3, 400
    counts = stats.block_bootstrap_counts(n, 100, 1, np.random.default_rng(7))
    rejected = 0
    for _ in range(replications):
        y = rng.random(n) < 0.3
        common = rng.standard_normal(n)

        def model(y=y, common=common):
            signals = 1.0 + 0.6 * rng.standard_normal(seeds)  # seed-to-seed AUC sd ~0.13
            return signals[:, None] * y + np.sqrt(0.7) * common + np.sqrt(0.3) * rng.standard_normal((seeds, n))

        interval = stats.paired_auc_difference(y, model(), model(), counts=counts).interval
        rejected += null_p_value(superiority, interval.estimate, interval.se, margin=0.0, df=interval.df) < ALPHA
    assert 0.02 <= rejected / replications <= 0.085


def test_seeds_that_differ_only_by_their_own_day_noise_add_no_seed_variance():
    """Seeds with the same expected AUC whose scores carry their own noise: their AUC spread on the
    observed days is day sampling, already in SE_days, and must not be counted twice."""
    rng = np.random.default_rng(21)
    n, k = 3000, 30
    y = rng.random(n) < 0.3
    scores = y + 0.5 * rng.standard_normal(n) + rng.standard_normal((k, n))  # same signal, own noise per seed
    counts = stats.block_bootstrap_counts(n, 300, 1, np.random.default_rng(22))
    per_seed = np.array([stats.auc(y, row) for row in scores])
    component = stats.seed_component(per_seed, np.stack([stats.resampled_auc(y, row, counts) for row in scores]))
    assert component.spread > 0.0  # the seeds do disagree on these days ...
    assert component.variance <= 0.25 * component.spread  # ... but hardly beyond what day sampling explains


@pytest.mark.parametrize("df", [1.0, 2.0, 3.4, 7.0, 35.0, 5000.0])
def test_detectable_shift_is_the_noncentral_t_shift_over_the_se_bias(df):
    """Checked against scipy's noncentral t and chi distributions: at a true difference of
    shift x E[SE], a one-sided t test at the level rejects with the power asked for."""
    from scipy.stats import chi, nct

    for level, power in [(0.05, 0.8), (0.05 / 10, 0.8 ** (1 / 13)), (0.025, 0.9)]:
        shift = stats.detectable_shift(level, power, df)
        mean_se_over_true_se = chi(df).mean() / np.sqrt(df)
        assert stats.se_bias(df) == pytest.approx(mean_se_over_true_se, rel=1e-9)
        assert nct.sf(t.isf(level, df), df, shift * mean_se_over_true_se) == pytest.approx(power, abs=1e-7)
    # infinite df: z_(1-level) + z_power, and the finite-df answer tends to it
    assert stats.detectable_shift(0.05, 0.8) == pytest.approx(norm.isf(0.05) + norm.ppf(0.8), rel=1e-12)
    assert stats.detectable_shift(0.05, 0.8, 1e7) == pytest.approx(stats.detectable_shift(0.05, 0.8), rel=1e-5)
    # a Satterthwaite df far below 1 (a seed spread that is almost all day noise): nothing is detectable
    assert stats.detectable_shift(0.05, 0.99, 1e-3) == np.inf


def test_mean_printed_detectable_difference_has_the_power_it_claims():
    """An SE with 3 df (three seeds' Welch df) varies a lot between data sets. Planting the mean of what
    the report prints, shift x SE, as the truth gives 80% power; the old t_(1-a) + t_P did not (Jensen)."""
    rng = np.random.default_rng(0)
    df, draws = 3.0, 400_000
    se = np.sqrt(rng.chisquare(df, draws) / df)  # the true SE is 1
    noise = rng.standard_normal(draws)
    critical = t.isf(0.05, df)

    def power_at_mean_printed(multiplier: float) -> float:
        truth = np.mean(multiplier * se)
        return float(np.mean(truth + noise > critical * se))

    assert power_at_mean_printed(stats.detectable_shift(0.05, 0.8, df)) == pytest.approx(0.8, abs=0.004)
    assert power_at_mean_printed(t.isf(0.05, df) + t.ppf(0.8, df)) < 0.775
