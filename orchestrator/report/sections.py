"""What each section of the report says: the analysis (comparisons, verdicts, loaded results)
turned into document blocks (report/document.py), in reading order (`compose`)."""

import datetime as dt
from pathlib import Path

import numpy as np

from orchestrator.registry import EXPERIMENTS
from orchestrator.report.compare import (
    ALPHA,
    ROLE_CLASSICAL,
    ROLE_PATCHTST,
    SEED_NOISE_MULTIPLE,
    Comparison,
    ExperimentSummary,
    HorizonAnalysis,
    ReportOptions,
)
from orchestrator.report.document import Block, Bullets, Details, Heading, Image, Paragraph, Table
from orchestrator.report.figures import FigureFile
from orchestrator.report.load import FLAG_MEANING, WARNING_FLAGS, LoadedResults
from orchestrator.report.plan import PLAN, POWER, PUBLISHED_PATCHTST_AUC
from orchestrator.report.stats import MIN_BATCHES, detectable_difference
from orchestrator.report.verdicts import (
    OVERLAP_OPT_IN,
    SEEDS_FOR_SEED_NOISE,
    STATUS_FRAGILE,
    STATUS_INCONCLUSIVE,
    STATUS_NEITHER,
    STATUS_OVERLAP,
    PlanOutcome,
    Tested,
    Verdict,
    format_p,
)

# Measured by `orch bench calibration --replications 200 --rule-replications 100 --resamples 200` (seed 0,
# seed sd 0.03, 2,000 test days in 8 walk-forward folds, rho 0): how often the one-sided superiority test
# rejects at true difference 0 and nominal level 0.05, with one seed per model (its seed variance real but
# unmeasurable, taken as 0) and with three (seed variance added, Welch t).
ONE_SEED_FALSE_POSITIVE_RATE = 0.250
THREE_SEED_FALSE_POSITIVE_RATE = 0.045

FIGURES_DIR = "figures"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _signed(value: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.{digits}f}"


def _flags(flags: list[str]) -> str:
    excluding = [f for f in flags if f not in WARNING_FLAGS]
    warning = [f for f in flags if f in WARNING_FLAGS]
    parts = (["FLAGGED: " + ", ".join(excluding)] if excluding else []) + (
        ["WARNING: " + ", ".join(warning)] if warning else []
    )
    return "; ".join(parts) or "—"


def _by_key(values: dict[int, float], prefix: str) -> str:
    return ", ".join(f"{prefix}{key}: {value:.3f}" for key, value in values.items()) or "n/a"


def _result_row(summary: ExperimentSummary) -> list[str]:
    e = summary.experiment
    interval = summary.test_auc
    p_min = min(run.result.metrics["test"].p_min for run in e.runs)
    p_max = max(run.result.metrics["test"].p_max for run in e.runs)
    devices = sorted({run.result.environment.device for run in e.runs})
    weights = e.weights.kind + (f" ({e.weights.hub_id}@{e.weights.revision or '?'})" if e.weights.hub_id else "")
    return [
        e.label,
        f"H{e.horizon}",
        e.family,
        _flags(e.flags),
        "deterministic (no seed)" if e.family == "classical" else ",".join(str(s) for s in e.seeds),
        str(summary.n_test),
        f"{_num(interval.estimate)} [{_num(interval.low)}, {_num(interval.high)}]",
        _by_key(e.seed_test_aucs(), "s"),
        _by_key(e.fold_test_aucs(), "f") if len(e.expected_folds) > 1 else "single split",
        _num(summary.seed_sd),
        _num(e.mean_metric("val", "auc")),
        _num(e.mean_metric("test", "accuracy")),
        _num(e.mean_metric("test", "precision")),
        _num(e.mean_metric("test", "recall")),
        f"{p_min:.3f}..{p_max:.3f} ({e.mean_metric('test', 'p_std'):.3f})",
        _num(e.mean_metric("test", "brier"), 4),
        _num(e.mean_metric("test", "ece")),
        f"{int(np.mean([run.result.n_parameters for run in e.runs])):,}",
        f"{np.mean([run.result.timings.train_seconds for run in e.runs]):.1f}",
        f"{e.spec.env} ({'/'.join(devices)})",
        weights,
        e.spec.profile,
    ]


RESULT_HEADER = [
    "Experiment",
    "H",
    "Family",
    "Flags",
    "Seeds",
    "Test days",
    "Test AUC [95% CI]",
    "Per-seed AUC",
    "Per-fold AUC",
    "Seed sd",
    "Val AUC",
    "Acc",
    "Prec",
    "Rec",
    "p range (sd)",
    "Brier",
    "ECE",
    "Params",
    "Train s",
    "Env (device)",
    "Weights",
    "Profile",
]

COMPARISON_HEADER = [
    "Model",
    "vs",
    "Flags",
    "Days",
    "AUC",
    "AUC ref",
    "Diff [95% CI]",
    "Rel.",
    "p boot",
    "p boot Holm",
    "p DeLong",
    "p DeLong Holm",
    f"{SEED_NOISE_MULTIPLE:g}x seed sd",
    "Detectable diff (80% power)",
    "Brier diff [95% CI]",
    "Outcome",
]


def _comparison_row(c: Comparison) -> list[str]:
    head = [c.subject.label, c.reference.label, _flags(c.flags), str(c.n_common)]
    if c.difference is None:
        return head + ["—"] * (len(COMPARISON_HEADER) - len(head) - 1) + [f"not compared: {c.problem}"]
    i, b = c.difference.interval, c.brier_difference
    outcome = c.outcome if c.eligible else f"{c.outcome} (flagged: not evidence)"
    return head + [
        _num(c.subject_auc),
        _num(c.reference_auc),
        f"{_signed(i.estimate)} [{_signed(i.low)}, {_signed(i.high)}]",
        f"{c.relative - 1.0:+.1%}",
        format_p(c.difference.p_bootstrap),
        format_p(c.p_bootstrap_holm),
        format_p(c.difference.p_delong),
        format_p(c.p_delong_holm),
        "unknown" if c.seed_noise is None else _num(SEED_NOISE_MULTIPLE * c.seed_noise),
        _num(detectable_difference(i.se, i.df, level=ALPHA, power=POWER), 4),
        f"{_signed(b.estimate, 4)} [{_signed(b.low, 4)}, {_signed(b.high, 4)}]",
        outcome,
    ]


def _coverage_section(loaded: LoadedResults) -> list[Block]:
    """Every registry experiment without a result here, with why: nothing of the matrix is dropped silently."""
    present = {e.spec.slug for e in loaded.experiments}
    rows = [
        [
            e.id,
            e.slug,
            e.unavailable.status if e.unavailable else "no result",
            e.unavailable.reason if e.unavailable else "not run yet (see `orch plan`)",
        ]
        for e in EXPERIMENTS
        if e.slug not in present
    ]
    if not rows:
        return []
    return [Heading("Coverage: experiments without a result", 2), Table(["id", "slug", "status", "reason"], rows)]


def _flag_section(loaded: LoadedResults) -> list[Block]:
    items: list[str | tuple[str, str]] = []
    for flag, meaning in FLAG_MEANING.items():
        hit = [e.label for e in loaded.experiments if flag in e.flags]
        items.append((flag, f"{meaning}. Flagged: {', '.join(hit) if hit else 'none'}."))
    return [
        Heading("Flags", 2),
        Paragraph(
            "Flagged results appear in every table, marked FLAGGED, but are kept out of every verdict; results marked "
            f"WARNING ({', '.join(sorted(WARNING_FLAGS)) or 'none'}) stay in verdicts, and every verdict resting on one names it."
        ),
        Bullets(items),
    ]


def _comparison_section(analyses: list[HorizonAnalysis], figures: dict[int, list[FigureFile]]) -> list[Block]:
    eligible = sum(c.eligible and c.difference is not None for a in analyses for c in a.comparisons)
    flagged = sum(not c.eligible and c.difference is not None for a in analyses for c in a.comparisons)
    blocks: list[Block] = [
        Heading("Descriptive comparisons with the reference baselines (not used by any verdict)", 2),
        Paragraph(
            "Verdicts come only from the pre-registered plan above; these tables describe every result against "
            "PatchTST and the best classical baseline. "
            f"Paired on the test days both sides have (inner join on date). Holm correction over all {eligible} "
            f"comparisons between unflagged results (both horizons, both references), and separately over the "
            f"{flagged} involving a flagged result. Outcome 'better'/'worse' needs Holm-adjusted bootstrap p < {ALPHA}, "
            f"an interval excluding 0, and |diff| >= {SEED_NOISE_MULTIPLE:g}x the larger seed sd when seeds are known; "
            f"otherwise 'no detectable difference' or 'within seed noise'."
        ),
    ]
    for analysis in analyses:
        if not analysis.experiments:
            continue
        blocks += [
            Heading(f"H{analysis.horizon}", 3),
            Bullets(
                [
                    ("PatchTST reference:", analysis.baselines.patchtst_note),
                    (
                        "Best classical baseline (chosen by validation AUC, never test):",
                        analysis.baselines.classical_note,
                    ),
                ]
            ),
        ]
        for role in (ROLE_PATCHTST, ROLE_CLASSICAL):
            rows = [_comparison_row(c) for c in analysis.comparisons_with(role)]
            if rows:
                blocks += [Paragraph(f"Against the {role} baseline:"), Table(COMPARISON_HEADER, rows)]
            if role == ROLE_PATCHTST:
                blocks += _images(figures.get(analysis.horizon, []), forest=True)
    return blocks


def _images(files: list[FigureFile], forest: bool) -> list[Block]:
    """The forest plot goes with the comparisons, the other figures with the results they draw."""
    return [Image(f"{FIGURES_DIR}/{f.name}", f.caption) for f in files if f.name.startswith("forest-") == forest]


def _results_section(analyses: list[HorizonAnalysis], figures: dict[int, list[FigureFile]]) -> list[Block]:
    blocks: list[Block] = [
        Heading("Results (test split)", 2),
        Paragraph(
            "Test AUC: mean over seeds (of the mean over folds) with a 95% t interval: bootstrap over test days plus "
            "between-seed variance (see Method). "
            "p range: lowest p_min..highest p_max over runs (mean per-run sd). Classical baselines are deterministic "
            "given the data (no seed enters their fit)."
        ),
    ]
    for analysis in analyses:
        if analysis.summaries:
            blocks += [
                Heading(f"H{analysis.horizon}", 3),
                Table(RESULT_HEADER, [_result_row(s) for s in analysis.summaries]),
            ]
            blocks += _images(figures.get(analysis.horizon, []), forest=False)
    return blocks


def _method_section(options: ReportOptions) -> list[Block]:
    return [
        Heading("Method", 2),
        Bullets(
            [
                f"Intervals: circular block bootstrap over test days ({options.n_resamples} resamples, seed {options.seed}, "
                + (
                    f"blocks of {options.block_length} days (--block-length)"
                    if options.block_length is not None
                    else "block length chosen per fold and comparison from the data: Politis-White (2004, corrected 2009) on the "
                    "day-by-day AUC influence series of the compared statistic, bounded to [1, min(3 sqrt n, n/3)]; every "
                    "comparison states its block lengths, and every passing one is re-run with half and double blocks; "
                    "one that fails either is 'fragile', which replaces a yes"
                )
                + "). Blocks keep the overlap of "
                "neighbouring H-day labels and volatility clustering inside each resample. Walk-forward folds are strata: "
                "blocks are drawn within each fold, and the statistic is the mean over folds of the within-fold AUC. "
                f"Floor for dependence the blocks miss: the days SE is the larger of the bootstrap's and the batch-means SE "
                f"(the statistic on at least {MIN_BATCHES} contiguous batches, each fold cut into equal parts: sd / sqrt(batches), "
                "batches - 1 df), which holds the superiority test's size at daily AR(1) 0.95 (`orch bench calibration`).",
                "Seeds are held fixed in the bootstrap (resampling k seeds would see only (k-1)/k of their variance); their "
                "variance is added: SE^2 = SE_days^2 + sum over sides of (s^2 - W)/k, s^2 the unbiased variance of the "
                "per-seed AUCs, W the part of it the bootstrap attributes to day sampling (floored at 0). Intervals "
                "(estimate +- t x SE) and p-values use Student's t with Welch-Satterthwaite df = SE^4 / sum (s^2/k)^2/(k-1), "
                "the bootstrap parts counted as infinite df (normal when no seed variance enters). One seed has no measurable "
                "seed variance and adds 0: its intervals and p-values are optimistic. "
                f"A trained model needs at least {options.min_seeds} seeds (--min-seeds) to enter a verdict. "
                "Seed sd = standard deviation of test AUC across seeds.",
                "p boot: two-sided Wald t test with that SE and df for the paired difference. "
                "p DeLong: DeLong's test on a single split (n/a across folds), a second opinion that assumes independent days.",
                "Detectable diff: the smallest true AUC difference found with 80% power at the stated level, "
                "delta x SE with delta from the noncentral t at the comparison's df, divided by E[SE] / true SE at "
                "that df (stats.detectable_shift, the one formula for the tables and the verdicts), so 'not "
                "detectable' can be read against it.",
                f"'{STATUS_INCONCLUSIVE}': the test did not pass and its detectable difference exceeds the rule's smallest effect "
                "of interest (equivalence and non-inferiority: the margin; superiority with a margin m: 1.5 m, tested as "
                "H0 diff <= m, so detectable = m + c x SE; else 2% relative): superiority c = z_(1-a) + z_P; non-inferiority "
                "(power at true 0) c = z_(1-a) + z_P; TOST (power at true 0: 2 Phi(m/SE - z_(1-a)) - 1 >= P) c = z_(1-a) + "
                "z_((1+P)/2); two-sided c = z_(1-a/2) + z_P (noncentral t at the comparison's df); a = the family's Bonferroni "
                "level; P = 0.80, or 0.80^(1/m) per comparison for an 'all' rule of m comparisons, so the rule has 80%; "
                "underpowered when the detectable difference > effect. "
                "'no' needs every failed comparison it rests on to be powered; an 'all' rule's 'no' needs a named model "
                "shown outside the margin (one-sided t of |diff| > margin, Bonferroni over the rule's comparisons). "
                "Foundation results whose test period starts before the model's pre-training cut-off make verdicts "
                "'not answerable (test period inside pre-training)' unless `orch report --allow-pretraining-overlap` "
                "(then named in the status). 'Picked by validation' ranks by the earliest fold's validation AUC, a "
                "period before every test day. What would make it answerable assumes "
                "SE^2 = V_days / test days + V_seeds / seeds, with V_days from the bootstrap with seeds held fixed (at the current df).",
                "Reference baselines (descriptive tables): PatchTST = model 'patchtst' (non-causal) at the same horizon; best classical = "
                "highest mean validation AUC among logreg, logreg-vol, gboost. The test split never selects anything.",
                "Accuracy, precision and recall use each job's cut-off chosen on validation; ECE uses 10 equal-width bins; "
                "table metrics other than AUC are means over seeds (and folds).",
            ]
        ),
    ]


def _base_rate_rows(analysis: HorizonAnalysis) -> list[list[str]]:
    """Per fold: its dates, test days and test positive rate (labels are the dataset's, so any
    experiment's first complete seed shows them)."""
    experiment = next((e for e in analysis.experiments if e.seeds), None)
    if experiment is None:
        return []
    rows = []
    for run in (r for r in experiment.runs if r.result.spec.seed == experiment.seeds[0]):
        test, spec = run.split("test"), run.result.spec
        rows.append(
            [
                f"H{analysis.horizon}",
                "single" if spec.fold is None else str(spec.fold),
                f"{spec.split_dates.train_end} / {spec.split_dates.val_end}",
                f"{test['date'].min().date()}..{test['date'].max().date()}",
                str(len(test)),
                f"{test['y_true'].mean():.3f}",
            ]
        )
    return rows


def _dataset_section(loaded: LoadedResults) -> list[Block]:
    """Which data the whole report is about: identity and split scheme, before any number."""
    identity = loaded.dataset
    blocks: list[Block] = [Heading("Dataset", 2)]
    if identity is None:
        return blocks + [Paragraph("no results")]
    if identity.folds == (None,):
        dates = loaded.experiments[0].spec.split_dates
        scheme = f"single: train < {dates.train_end} <= val < {dates.val_end} <= test"
    else:
        scheme = (
            f"walk-forward, {len(identity.folds)} folds (expanding train, one validation year, one test year; "
            "rows whose label window crosses a boundary purged)"
        )
    return blocks + [Bullets([("Name:", identity.name), ("sha256:", identity.sha256), ("Split:", scheme)])]


def _dataset_detail_section(loaded: LoadedResults, analyses: list[HorizonAnalysis]) -> list[Block]:
    """Folds and base rates, and what was left out as another dataset's."""
    blocks: list[Block] = [Heading("Test folds and base rates", 2)]
    rows = [row for analysis in analyses for row in _base_rate_rows(analysis)]
    if rows:
        blocks.append(Table(["H", "Fold", "train_end / val_end", "Test days", "n test", "Test base rate"], rows))
    if loaded.excluded:
        blocks += [
            Paragraph(
                f"Excluded (another dataset; never mixed into this report): {len(loaded.excluded)} result folder(s)."
            ),
            Bullets([(f"{s.folder.name}:", s.reason) for s in loaded.excluded]),
        ]
    return blocks


def _plan_section() -> list[Block]:
    rows = []
    for rule in PLAN:
        margins = (
            "; ".join(rule.margin.describe(h) for h in sorted(PUBLISHED_PATCHTST_AUC))
            if rule.margin.relative
            else "none"
        )
        family = (
            f"{rule.key}: Holm over {rule.family_size()}"
            if rule.holm
            else f"{rule.key}: none (claim needs all {rule.family_size()})"
        )
        effect = "; ".join(
            f"{rule.smallest_effect.relative:.0%} relative = {rule.effect_of_interest(h):.4f} at H{h}"
            for h in sorted(PUBLISHED_PATCHTST_AUC)
        )
        rows.append(
            [
                rule.key,
                rule.claim,
                rule.test,
                margins,
                effect,
                family,
                rule.decision,
                "; ".join(c.describe() for c in rule.comparisons),
            ]
        )
    return [
        Heading("Pre-registered analysis plan", 2),
        Paragraph(
            f"Fixed in orchestrator/report/plan.py before results are read; verdicts use only these comparisons. "
            f"Level {ALPHA}, power {POWER:.0%}. Margins: the research plan's percentages are relative to PatchTST's AUC, "
            f"fixed in AUC points with the published PatchTST AUCs {PUBLISHED_PATCHTST_AUC}; both forms are reported. "
            "A 'best by validation' reference is picked on validation AUC among unflagged results and then tested as that model. "
            "Superiority rules with a margin need a detectable gain (H0: diff <= 0) whose estimate reaches the margin; "
            "equivalence is TOST; non-inferiority tests H0: diff <= -margin. A planned comparison without unflagged "
            "results counts as p = 1 in its family."
        ),
        Table(
            ["Rule", "Claim", "Test", "Margin", "Smallest effect of interest", "Family", "Combine", "Comparisons"], rows
        ),
    ]


SUMMARY_HEADER = [
    "Rule",
    "H",
    "Question",
    "Status",
    "Deciding estimate: diff [95% CI]",
    "Detectable (80% power) / effect of interest",
    "Rests on flagged or few-seed results",
    "Next",
]


def _deciding_text(t: Tested | None) -> str:
    if t is None:
        return "—"
    return f"{t.subject.model} vs {t.reference.model}: {t.difference:+.4f} [{t.low:+.4f}, {t.high:+.4f}]"


def _power_text(verdict: Verdict, outcome: PlanOutcome) -> str:
    t = verdict.deciding
    if t is None:
        return "—"
    return f"{t.minimum_detectable:.4f} / {outcome.rule.effect_of_interest(verdict.horizon):.4f}"


def _summary_section(outcomes: list[PlanOutcome]) -> list[Block]:
    """One row per rule and horizon, the first table of the report."""
    rows = [
        [
            o.rule.key,
            f"H{v.horizon}",
            o.rule.claim,
            v.status,
            _deciding_text(v.deciding),
            _power_text(v, o),
            "; ".join(v.warnings) or "—",
            v.next_step,
        ]
        for o in outcomes
        for v in o.verdicts
    ]
    return [
        Heading("Verdicts at a glance", 2),
        Table(SUMMARY_HEADER, rows, id="verdict-summary"),
        Paragraph(
            f"Statuses: the rule's yes-answer; its no-answer (tested with 80% power for its smallest effect of "
            f"interest, and failed); '{STATUS_INCONCLUSIVE}' (failed, but could not have found that effect: not "
            "evidence against the claim); an 'all' rule's no-answer needs a named model shown outside the margin, "
            f"else '{STATUS_NEITHER}'; '{STATUS_FRAGILE}'; '{STATUS_OVERLAP}' (foundation results on test years the "
            f"model may have seen; `{OVERLAP_OPT_IN}` counts them and the status then says so); "
            "'not answerable yet' / 'not shown' (planned results missing). "
            "Each comparison's numbers are under 'Evidence' below."
        ),
    ]


def _evidence_section(outcomes: list[PlanOutcome]) -> list[Block]:
    blocks: list[Block] = [Heading("Evidence (every planned comparison)", 2)]
    for outcome in outcomes:
        for verdict in outcome.verdicts:
            inner: list[Block] = [Bullets(list(verdict.evidence))]
            if verdict.warnings:
                inner.append(Paragraph("Caveats: " + "; ".join(verdict.warnings) + "."))
            if verdict.next_step != "—":
                inner.append(Paragraph(f"Next: {verdict.next_step}"))
            blocks.append(
                Details(f"{outcome.rule.key} H{verdict.horizon}: {verdict.status} — {outcome.rule.claim}", inner)
            )
    return blocks


def _seed_warning(outcomes: list[PlanOutcome]) -> list[Block]:
    """First lines of the report: verdicts that rest on fewer seeds than seed noise needs."""
    shaky = [
        f"{o.rule.key} H{v.horizon}"
        for o in outcomes
        for v in o.verdicts
        if v.deciding is not None and any("fewer than" in w and "seeds" in w for w in v.warnings)
    ]
    if not shaky:
        return []
    return [
        Paragraph(
            f"WARNING: {len(shaky)} verdict(s) rest on results with fewer than {SEEDS_FOR_SEED_NOISE} seeds ({', '.join(shaky)}). "
            f"With one seed, seed-to-seed noise is unmeasurable and taken as 0, so its intervals and p-values are optimistic: "
            f"in this project's own calibration "
            f"(`orch bench calibration`) a superiority test at true difference 0 and nominal level 0.05 rejected "
            f"{ONE_SEED_FALSE_POSITIVE_RATE:.3f} of the time with 1 seed vs {THREE_SEED_FALSE_POSITIVE_RATE:.3f} with 3."
        )
    ]


def compose(
    results_dir: Path,
    loaded: LoadedResults,
    *,
    analyses: list[HorizonAnalysis],
    outcomes: list[PlanOutcome],
    figures: dict[int, list[FigureFile]],
    options: ReportOptions,
) -> list[Block]:
    runs = sum(len(e.runs) for e in loaded.experiments)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[Block] = [
        Heading("Foundation models vs PatchTST: report", 1),
        Paragraph(
            f"Generated {generated} from {results_dir}: {runs} valid result folders in "
            f"{len(loaded.experiments)} experiments; {len(loaded.skipped)} folder(s) skipped."
        ),
    ]
    blocks += _seed_warning(outcomes)
    blocks += _dataset_section(loaded)
    blocks += _summary_section(outcomes)
    blocks += _evidence_section(outcomes)
    blocks += _results_section(analyses, figures)
    blocks += _comparison_section(analyses, figures)
    blocks += _dataset_detail_section(loaded, analyses)
    if loaded.skipped:
        blocks += [
            Heading("Skipped result folders", 2),
            Bullets([(f"{s.folder.name}:", s.reason) for s in loaded.skipped]),
        ]
    blocks += _flag_section(loaded)
    blocks += _coverage_section(loaded)
    blocks += _plan_section()
    blocks += _method_section(options)
    return blocks
