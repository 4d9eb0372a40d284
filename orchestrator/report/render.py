"""Turns the analysis into a document (a list of blocks) and the document into Markdown and HTML,
so both formats always say the same thing."""

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

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
from orchestrator.report.figures import FigureFile
from orchestrator.report.load import FLAG_MEANING, LoadedResults
from orchestrator.report.plan import PLAN, POWER, PUBLISHED_PATCHTST_AUC
from orchestrator.report.verdicts import PlanOutcome, Verdict, format_p

FIGURES_DIR = "figures"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    """Items are plain text or (bold lead, text) pairs."""

    items: list[str | tuple[str, str]]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    path: str
    caption: str


Block = Heading | Paragraph | Bullets | Table | Image


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _signed(value: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.{digits}f}"


def _flags(flags: list[str]) -> str:
    return "FLAGGED: " + ", ".join(flags) if flags else "—"


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
        ",".join(str(s) for s in e.seeds),
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
    "Experiment", "H", "Family", "Flags", "Seeds", "Test days", "Test AUC [95% CI]", "Per-seed AUC", "Per-fold AUC", "Seed sd", "Val AUC", "Acc", "Prec",
    "Rec", "p range (sd)", "Brier", "ECE", "Params", "Train s", "Env (device)", "Weights", "Profile",
]

COMPARISON_HEADER = [
    "Model", "vs", "Flags", "Days", "AUC", "AUC ref", "Diff [95% CI]", "Rel.", "p boot", "p boot Holm",
    "p DeLong", "p DeLong Holm", f"{SEED_NOISE_MULTIPLE:g}x seed sd", "Detectable diff (80% power)", "Brier diff [95% CI]", "Outcome",
]


def detectable_difference(se: float) -> float:
    """Smallest true AUC difference a two-sided test at ALPHA finds with 80% power, from the paired SE."""
    return float((scipy_stats.norm.isf(ALPHA / 2) + scipy_stats.norm.ppf(POWER)) * se)


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
        _num(detectable_difference(i.se), 4),
        f"{_signed(b.estimate, 4)} [{_signed(b.low, 4)}, {_signed(b.high, 4)}]",
        outcome,
    ]


def _coverage_section(loaded: LoadedResults) -> list[Block]:
    """Every registry experiment without a result here, with why: nothing of the matrix is dropped silently."""
    present = {e.spec.slug for e in loaded.experiments}
    rows = [[e.id, e.slug, e.unavailable.status if e.unavailable else "no result",
             e.unavailable.reason if e.unavailable else "not run yet (see `orch plan`)"]
            for e in EXPERIMENTS if e.slug not in present]
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
        Paragraph("Flagged results appear in every table, marked FLAGGED, but are kept out of every verdict."),
        Bullets(items),
    ]


def _comparison_section(analyses: list[HorizonAnalysis]) -> list[Block]:
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
            Bullets([("PatchTST reference:", analysis.baselines.patchtst_note),
                     ("Best classical baseline (chosen by validation AUC, never test):", analysis.baselines.classical_note)]),
        ]
        for role in (ROLE_PATCHTST, ROLE_CLASSICAL):
            rows = [_comparison_row(c) for c in analysis.comparisons_with(role)]
            if rows:
                blocks += [Paragraph(f"Against the {role} baseline:"), Table(COMPARISON_HEADER, rows)]
    return blocks


def _figure_section(figures: dict[int, list[FigureFile]]) -> list[Block]:
    blocks: list[Block] = [Heading("Figures", 2)]
    for horizon, files in figures.items():
        if files:
            blocks.append(Heading(f"H{horizon}", 3))
            blocks += [Image(f"{FIGURES_DIR}/{f.name}", f.caption) for f in files]
    return blocks


def _method_section(options: ReportOptions) -> list[Block]:
    return [
        Heading("Method", 2),
        Bullets([
            f"Intervals: circular block bootstrap over test days ({options.n_resamples} resamples, blocks of "
            f"{options.block_length} days, seed {options.seed}), percentile 95% intervals. Blocks keep the overlap of "
            "neighbouring H-day labels and volatility clustering inside each resample. Walk-forward folds are strata: "
            "blocks are drawn within each fold, and the statistic is the mean over folds of the within-fold AUC.",
            "Seeds: every resample also draws the seeds with replacement, so intervals carry between-seed variation; "
            f"a trained model needs at least {options.min_seeds} seeds (--min-seeds) to enter a verdict. "
            "Seed sd = standard deviation of test AUC across seeds.",
            "p boot: two-sided Wald test with the bootstrap standard error of the paired difference. "
            "p DeLong: DeLong's test on a single split (n/a across folds), a second opinion that assumes independent days.",
            "Detectable diff: the smallest true AUC difference found with 80% power at the stated level "
            "(z_level + z_0.80) x bootstrap SE, so 'not detectable' can be read against it.",
            "Reference baselines (descriptive tables): PatchTST = model 'patchtst' (non-causal) at the same horizon; best classical = "
            "highest mean validation AUC among logreg, logreg-vol, gboost. The test split never selects anything.",
            "Accuracy, precision and recall use each job's cut-off chosen on validation; ECE uses 10 equal-width bins; "
            "table metrics other than AUC are means over seeds (and folds).",
        ]),
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
        rows.append([f"H{analysis.horizon}", "single" if spec.fold is None else str(spec.fold),
                     f"{spec.split_dates.train_end} / {spec.split_dates.val_end}",
                     f"{test['date'].min().date()}..{test['date'].max().date()}", str(len(test)), f"{test['y_true'].mean():.3f}"])
    return rows


def _dataset_section(loaded: LoadedResults, analyses: list[HorizonAnalysis]) -> list[Block]:
    """Which data the whole report is about: identity, split scheme and base rates, before any number."""
    identity = loaded.dataset
    blocks: list[Block] = [Heading("Dataset", 2)]
    if identity is None:
        return blocks + [Paragraph("no results")]
    if identity.folds == (None,):
        dates = loaded.experiments[0].spec.split_dates
        scheme = f"single: train < {dates.train_end} <= val < {dates.val_end} <= test"
    else:
        scheme = (f"walk-forward, {len(identity.folds)} folds (expanding train, one validation year, one test year; "
                  "rows whose label window crosses a boundary purged)")
    blocks.append(Bullets([("Name:", identity.name), ("sha256:", identity.sha256), ("Split:", scheme)]))
    rows = [row for analysis in analyses for row in _base_rate_rows(analysis)]
    if rows:
        blocks.append(Table(["H", "Fold", "train_end / val_end", "Test days", "n test", "Test base rate"], rows))
    if loaded.excluded:
        blocks += [Paragraph(f"Excluded (another dataset; never mixed into this report): {len(loaded.excluded)} result folder(s)."),
                   Bullets([(f"{s.folder.name}:", s.reason) for s in loaded.excluded])]
    return blocks


def _plan_section() -> list[Block]:
    rows = []
    for rule in PLAN:
        margins = "; ".join(rule.margin.describe(h) for h in sorted(PUBLISHED_PATCHTST_AUC)) if rule.margin.relative else "none"
        family = f"{rule.key}: Holm over {rule.family_size()}" if rule.holm else f"{rule.key}: none (claim needs all {rule.family_size()})"
        rows.append([rule.key, rule.claim, rule.test, margins, family, rule.decision,
                     "; ".join(c.describe() for c in rule.comparisons)])
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
        Table(["Rule", "Claim", "Test", "Margin", "Family", "Combine", "Comparisons"], rows),
    ]


def _verdict_rows(verdicts: list[Verdict]) -> list[list[str]]:
    return [[v.rule, v.topic, f"H{v.horizon}", v.status, v.detail] for v in verdicts]


def _verdict_section(outcomes: list[PlanOutcome]) -> list[Block]:
    decisions = [v for o in outcomes if o.rule.key.startswith("D") for v in o.verdicts]
    hypotheses = [v for o in outcomes if o.rule.key.startswith("H") for v in o.verdicts]
    header = ["Rule", "Claim", "H", "Status", "Evidence (every planned comparison)"]
    return [
        Heading("Decision table (research plan)", 2), Table(header, _verdict_rows(decisions)),
        Heading("Hypotheses", 2), Table(header, _verdict_rows(hypotheses)),
    ]


def compose(
    results_dir: Path,
    loaded: LoadedResults,
    analyses: list[HorizonAnalysis],
    outcomes: list[PlanOutcome],
    figures: dict[int, list[FigureFile]],
    options: ReportOptions,
) -> list[Block]:
    runs = sum(len(e.runs) for e in loaded.experiments)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[Block] = [
        Heading("Foundation models vs PatchTST: report", 1),
        Paragraph(
            f"Generated {generated} from {results_dir}: {runs} valid result folders in "
            f"{len(loaded.experiments)} experiments; {len(loaded.skipped)} folder(s) skipped."
        ),
    ]
    blocks += _dataset_section(loaded, analyses)
    if loaded.skipped:
        blocks += [Heading("Skipped result folders", 2), Bullets([(f"{s.folder.name}:", s.reason) for s in loaded.skipped])]
    blocks += _flag_section(loaded)
    blocks += _plan_section()
    blocks += _verdict_section(outcomes)
    blocks += [
        Heading("Results (test split)", 2),
        Table(RESULT_HEADER, [_result_row(s) for a in analyses for s in a.summaries]),
        Paragraph("Test AUC: mean over seeds (of the mean over folds) with a 95% bootstrap interval over test days and seeds. "
                  "p range: lowest p_min..highest p_max over runs (mean per-run sd)."),
    ]
    blocks += _coverage_section(loaded)
    blocks += _comparison_section(analyses)
    blocks += _figure_section(figures)
    blocks += _method_section(options)
    return blocks


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        match block:
            case Heading(text, level):
                lines += ["#" * level + " " + text, ""]
            case Paragraph(text):
                lines += [text, ""]
            case Bullets(items):
                lines += [f"- **{item[0]}** {item[1]}" if isinstance(item, tuple) else f"- {item}" for item in items] + [""]
            case Table(header, rows):
                lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                lines.append("")
            case Image(path, caption):
                lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    return "\n".join(lines)


HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1600px; }
table { border-collapse: collapse; font-size: 12px; margin-bottom: 1em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; }
th { background: #f0f0f0; }
figure { margin: 1em 0; }
figcaption { font-size: 12px; color: #444; }
"""


def to_html(blocks: list[Block]) -> str:
    escape = html.escape
    title = next((b.text for b in blocks if isinstance(b, Heading)), "report")
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{HTML_STYLE}</style></head><body>"]
    for block in blocks:
        match block:
            case Heading(text, level):
                parts.append(f"<h{level}>{escape(text)}</h{level}>")
            case Paragraph(text):
                parts.append(f"<p>{escape(text)}</p>")
            case Bullets(items):
                parts.append("<ul>" + "".join(
                    f"<li><strong>{escape(item[0])}</strong> {escape(item[1])}</li>" if isinstance(item, tuple) else f"<li>{escape(item)}</li>"
                    for item in items) + "</ul>")
            case Table(header, rows):
                head = "".join(f"<th>{escape(h)}</th>" for h in header)
                body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            case Image(path, caption):
                parts.append(f"<figure><img src='{escape(path)}' alt='{escape(caption)}'><figcaption>{escape(caption)}</figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
