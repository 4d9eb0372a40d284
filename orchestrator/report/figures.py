"""The report's figures as PNG bytes, drawn on the Agg canvas (no display, no pyplot global state).

Results kept out of verdicts are drawn dashed / grey so a smoke result never looks like a finding;
warning flags (load.WARNING_FLAGS) only appear in the legend.
"""

import io
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from orchestrator.report.compare import ROLE_PATCHTST, HorizonAnalysis
from orchestrator.report.load import SeedGroup
from orchestrator.report.stats import reliability_bins, roc_curve

DPI = 110
HISTOGRAM_BINS = np.linspace(0.0, 1.0, 51)
FLAGGED_COLOUR = "0.6"


@dataclass(frozen=True)
class FigureFile:
    name: str
    caption: str
    png: bytes


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _colour(index: int) -> tuple:
    return colormaps["tab20"](index % 20)


def _legend_label(experiment: SeedGroup, value: str = "") -> str:
    flagged = f" [{', '.join(experiment.flags)}]" if experiment.flags else ""
    return f"{experiment.label}{value}{flagged}"


def _pooled_test(experiment: SeedGroup) -> tuple[np.ndarray, np.ndarray]:
    """All seeds' test predictions together: what the model family produces, seed noise included."""
    tests = [run.split("test") for run in experiment.runs]
    return (
        np.concatenate([t["y_true"].to_numpy() for t in tests]).astype(bool),
        np.concatenate([t["p"].to_numpy() for t in tests]),
    )


def roc_figure(analysis: HorizonAnalysis) -> FigureFile:
    figure = Figure(figsize=(7.0, 6.0))
    axes = figure.add_subplot()
    for index, summary in enumerate(analysis.summaries):
        experiment = summary.experiment
        style = "--" if not experiment.eligible else "-"
        for seed_index, run in enumerate(experiment.runs):
            test = run.split("test")
            fpr, tpr = roc_curve(test["y_true"].to_numpy(), test["p"].to_numpy())
            label = _legend_label(experiment, f" (AUC {summary.test_auc.estimate:.3f})") if seed_index == 0 else None
            axes.plot(fpr, tpr, style, color=_colour(index), linewidth=1.0, alpha=0.85, label=label)
    axes.plot([0, 1], [0, 1], ":", color="0.5", linewidth=0.8)
    axes.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=f"ROC, test split, H{analysis.horizon} (one line per seed)",
    )
    axes.legend(fontsize=6, loc="lower right")
    return FigureFile(
        f"roc-h{analysis.horizon}.png",
        f"ROC curves on the test split, H{analysis.horizon}; dashed = flagged.",
        _png(figure),
    )


def forest_figure(analysis: HorizonAnalysis) -> FigureFile | None:
    """AUC difference vs PatchTST with 95% block-bootstrap intervals; None when nothing was compared."""
    compared = [c for c in analysis.comparisons_with(ROLE_PATCHTST) if c.difference is not None]
    if not compared:
        return None
    figure = Figure(figsize=(7.5, 1.2 + 0.35 * len(compared)))
    axes = figure.add_subplot()
    for row, c in enumerate(reversed(compared)):
        i = c.difference.interval
        colour = "black" if c.eligible else FLAGGED_COLOUR
        axes.errorbar(
            i.estimate,
            row,
            xerr=[[i.estimate - i.low], [i.high - i.estimate]],
            fmt="o",
            color=colour,
            capsize=3,
            markersize=4,
        )
    reference_auc = compared[0].reference_auc
    axes.axvline(0.0, color="0.3", linewidth=0.8)
    for relative, style in ((-0.02, ":"), (0.02, ":"), (0.05, "--")):
        axes.axvline(relative * reference_auc, color="tab:blue", linestyle=style, linewidth=0.8)
    axes.set_yticks(range(len(compared)), [_legend_label(c.subject) for c in reversed(compared)], fontsize=7)
    axes.set(
        xlabel=f"test AUC difference vs {compared[0].reference.label}",
        title=f"AUC difference vs PatchTST, H{analysis.horizon} (grey = flagged)",
    )
    caption = (
        f"AUC minus PatchTST's on common test days, H{analysis.horizon}, with 95% paired block-bootstrap "
        "intervals; dotted lines = +-2% relative, dashed = +5% relative."
    )
    return FigureFile(f"forest-h{analysis.horizon}.png", caption, _png(figure))


def calibration_figure(analysis: HorizonAnalysis) -> FigureFile:
    figure = Figure(figsize=(7.0, 6.0))
    axes = figure.add_subplot()
    for index, experiment in enumerate(analysis.experiments):
        y, p = _pooled_test(experiment)
        mean_p, observed, _ = reliability_bins(y, p)
        style = "o--" if not experiment.eligible else "o-"
        axes.plot(
            mean_p,
            observed,
            style,
            color=_colour(index),
            markersize=3,
            linewidth=1.0,
            label=_legend_label(experiment, f" (ECE {experiment.mean_metric('test', 'ece'):.3f})"),
        )
    axes.plot([0, 1], [0, 1], ":", color="0.5", linewidth=0.8)
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted probability (10 equal-width bins)",
        ylabel="observed rate",
        title=f"Reliability, test split, H{analysis.horizon} (seeds pooled)",
    )
    axes.legend(fontsize=6, loc="upper left")
    return FigureFile(
        f"calibration-h{analysis.horizon}.png",
        f"Reliability curves on the test split, H{analysis.horizon}; dashed = flagged.",
        _png(figure),
    )


def histogram_figure(analysis: HorizonAnalysis) -> FigureFile:
    experiments = analysis.experiments
    columns = min(3, len(experiments))
    rows = -(-len(experiments) // columns)
    figure = Figure(figsize=(3.4 * columns, 2.4 * rows))
    for index, experiment in enumerate(experiments):
        axes = figure.add_subplot(rows, columns, index + 1)
        y, p = _pooled_test(experiment)
        axes.hist(p[~y], bins=HISTOGRAM_BINS, histtype="stepfilled", color="tab:blue", alpha=0.6, label="y=0")
        axes.hist(p[y], bins=HISTOGRAM_BINS, histtype="stepfilled", color="tab:red", alpha=0.6, label="y=1")
        axes.set_title(
            _legend_label(experiment), fontsize=7, color=FLAGGED_COLOUR if not experiment.eligible else "black"
        )
        axes.tick_params(labelsize=6)
        if index == 0:
            axes.legend(fontsize=6)
    figure.suptitle(f"Predicted probabilities, test split, H{analysis.horizon} (seeds pooled)", fontsize=9)
    figure.subplots_adjust(hspace=0.6, wspace=0.25)
    return FigureFile(
        f"hist-h{analysis.horizon}.png",
        f"Histograms of test-split probabilities by true class, H{analysis.horizon}.",
        _png(figure),
    )


def horizon_figures(analysis: HorizonAnalysis) -> list[FigureFile]:
    if not analysis.experiments:
        return []
    figures = [roc_figure(analysis), forest_figure(analysis), calibration_figure(analysis), histogram_figure(analysis)]
    return [f for f in figures if f is not None]
