"""The research plan's decision table and verdicts on H1-H4, built from unflagged results only.

Every verdict names the numbers behind it; when the evidence is missing or flagged, it says
'not answerable yet' and lists what was excluded (and by which flag) and what is still needed.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from orchestrator.report.compare import (
    OUTCOME_BETTER,
    OUTCOME_WORSE,
    ROLE_CLASSICAL,
    ROLE_PATCHTST,
    SEED_NOISE_MULTIPLE,
    Comparison,
    HorizonAnalysis,
)
from orchestrator.report.load import CAUSAL_MODEL, DEEP_FAMILIES, Experiment
from orchestrator.report.next_steps import answering_step

STATUS_NOT_ANSWERABLE = "not answerable yet"
PURSUE_RATIO = 1.05
EQUIVALENCE_BAND = 0.02
UNFLAGGED = "full profile, >= 2 seeds, not random-init"
# Forecast-derived probabilities often barely move; below this sd of p the ranking rests on tiny differences.
NEARLY_CONSTANT_SD = 0.01


@dataclass(frozen=True)
class Verdict:
    topic: str
    horizon: int
    status: str
    detail: str


def _pct(ratio: float) -> str:
    return f"{ratio - 1.0:+.1%}"


def format_p(value: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def describe(c: Comparison) -> str:
    """One comparison with every number a reader needs to check the verdict."""
    if c.difference is None:
        return f"{c.subject.label} vs {c.reference.label}: not compared ({c.problem})"
    i = c.difference.interval
    noise = "seed noise unknown" if c.seed_noise is None else f"{SEED_NOISE_MULTIPLE:g}x seed sd {SEED_NOISE_MULTIPLE * c.seed_noise:.3f}"
    return (
        f"{c.subject.label} vs {c.reference.label}: AUC {c.subject_auc:.3f} vs {c.reference_auc:.3f} "
        f"(diff {i.estimate:+.3f}, 95% CI [{i.low:+.3f}, {i.high:+.3f}], {_pct(c.relative)} relative; "
        f"Holm p={format_p(c.p_bootstrap_holm)}, DeLong p={format_p(c.difference.p_delong)}; {noise}) -> {c.outcome}"
    )


def _exclusions(experiments: list[Experiment]) -> str:
    return "; ".join(f"{e.label} ({', '.join(e.flags)})" for e in experiments if not e.eligible)


def _not_answerable(topic: str, horizon: int, needed: list[str], relevant: list[Experiment]) -> Verdict:
    flagged = [e for e in relevant if not e.eligible]
    if flagged:
        detail = f"only smoke/quick/random-init/single-seed results — excluded: {_exclusions(flagged)}. "
    else:
        detail = ""
    return Verdict(topic, horizon, STATUS_NOT_ANSWERABLE, detail + "Missing: " + "; ".join(needed) + ".")


def _with_exclusions(detail: str, relevant: list[Experiment]) -> str:
    excluded = _exclusions(relevant)
    return detail + (f" Not used (flagged): {excluded}." if excluded else "")


def _pretrained_foundation(experiments: list[Experiment]) -> list[Experiment]:
    return [e for e in experiments if e.family == "foundation" and e.weights.kind == "pretrained"]


def _by_validation(experiments: list[Experiment]) -> Experiment:
    """Best by validation AUC: selecting on test would flatter whoever is picked."""
    return max(experiments, key=lambda e: (np.nan_to_num(e.mean_metric("val", "auc"), nan=-1.0), e.label))


def _eligible_vs_patchtst(analysis: HorizonAnalysis, experiments: list[Experiment]) -> list[Comparison]:
    wanted = {id(e) for e in experiments if e.eligible}
    return [c for c in analysis.comparisons_with(ROLE_PATCHTST) if id(c.subject) in wanted and c.eligible and c.difference is not None]


def _needs_reference(analysis: HorizonAnalysis) -> list[str]:
    reference = analysis.baselines.patchtst
    if reference is None or not reference.eligible:
        return [f"an unflagged PatchTST ('patchtst') result at H{analysis.horizon} ({UNFLAGGED})"]
    return []


def _reference_list(analysis: HorizonAnalysis) -> list[Experiment]:
    return [analysis.baselines.patchtst] if analysis.baselines.patchtst is not None else []


def pursue_rule(analysis: HorizonAnalysis) -> Verdict:
    topic, h = "Any model >= 5% AUC over PatchTST -> pursue it", analysis.horizon
    others = [e for e in analysis.experiments if e is not analysis.baselines.patchtst]
    compared = _eligible_vs_patchtst(analysis, others)
    needed = _needs_reference(analysis) + ([] if compared else [f"unflagged results of other models at H{h}"])
    if needed:
        return _not_answerable(topic, h, needed, _reference_list(analysis) + others)
    reaching = [c for c in compared if c.relative >= PURSUE_RATIO]
    confirmed = [c for c in reaching if c.outcome == OUTCOME_BETTER]
    if confirmed:
        status = "yes: pursue " + ", ".join(c.subject.label for c in confirmed)
        detail = " | ".join(describe(c) for c in confirmed)
    elif reaching:
        status = "inconclusive"
        detail = "reaches 5% on the point estimate but is not a detectable improvement: " + " | ".join(describe(c) for c in reaching)
    else:
        best = max(compared, key=lambda c: c.relative)
        status, detail = "no", f"best relative gain {_pct(best.relative)}: {describe(best)}"
    return Verdict(topic, h, status, _with_exclusions(detail, others))


def equivalence_rule(analysis: HorizonAnalysis) -> Verdict:
    """'All within +-2%' is claimed only when the intervals, not just the point estimates, fit the band."""
    topic, h = "All deep models within +-2% of PatchTST -> architecture does not matter, go back to features", analysis.horizon
    deep = [e for e in analysis.experiments if e.family in DEEP_FAMILIES and e is not analysis.baselines.patchtst]
    compared = _eligible_vs_patchtst(analysis, deep)
    needed = _needs_reference(analysis) + ([] if compared else [f"unflagged deep-model results at H{h}"])
    if needed:
        return _not_answerable(topic, h, needed, _reference_list(analysis) + deep)
    outside = [c for c in compared if abs(c.relative - 1.0) > EQUIVALENCE_BAND]
    band = EQUIVALENCE_BAND * compared[0].reference_auc
    widest = max(max(abs(c.difference.interval.low), abs(c.difference.interval.high)) for c in compared)
    if outside:
        status, detail = "no", "outside the band: " + " | ".join(describe(c) for c in outside)
    elif widest <= band:
        status, detail = "yes: go back to features", f"all {len(compared)} intervals lie within +-{band:.3f} AUC"
    else:
        status = "inconclusive"
        detail = (f"all {len(compared)} point estimates are within +-2%, but intervals reach +-{widest:.3f} AUC, "
                  f"wider than the band (+-{band:.3f}): equivalence is not shown")
    return Verdict(topic, h, status, _with_exclusions(detail, deep))


def _ratio_text(a: Experiment, b: Experiment, analysis: HorizonAnalysis) -> tuple[float, str]:
    auc_a, auc_b = analysis.summary(a).test_auc.estimate, analysis.summary(b).test_auc.estimate
    ratio = auc_a / auc_b
    return ratio, f"{a.label} test AUC {auc_a:.3f} vs {b.label} {auc_b:.3f} ({_pct(ratio)} relative)"


def attention_rule(analysis: HorizonAnalysis) -> Verdict:
    topic, h = "TimeMixer ~ transformers -> attention unnecessary", analysis.horizon
    timemixers = [e for e in analysis.experiments if e.model == "timemixer"]
    transformers = [e for e in analysis.experiments if e.family == "transformer"]
    needed = []
    if not any(e.eligible for e in timemixers):
        needed.append(f"an unflagged TimeMixer result at H{h}")
    if not any(e.eligible for e in transformers):
        needed.append(f"an unflagged from-scratch transformer result at H{h}")
    if needed:
        return _not_answerable(topic, h, needed, timemixers + transformers)
    timemixer = _by_validation([e for e in timemixers if e.eligible])
    transformer = _by_validation([e for e in transformers if e.eligible])
    ratio, text = _ratio_text(timemixer, transformer, analysis)
    status = "yes: attention unnecessary" if ratio >= 1.0 - EQUIVALENCE_BAND else "no"
    detail = f"{text}; transformer picked by validation AUC; rule: TimeMixer >= 98% of it"
    return Verdict(topic, h, status, _with_exclusions(detail, timemixers + transformers))


def pretraining_rule(analysis: HorizonAnalysis) -> Verdict:
    topic, h = "Foundation >> from-scratch -> pre-training essential", analysis.horizon
    foundation = [e for e in analysis.experiments if e.family == "foundation"]
    scratch = [e for e in analysis.experiments if e.family in ("transformer", "no-attention")]
    pretrained = [e for e in _pretrained_foundation(foundation) if e.eligible]
    needed = []
    if not pretrained:
        needed.append(f"an unflagged Lag-Llama/TimesFM result with pretrained weights at H{h}")
    if not any(e.eligible for e in scratch):
        needed.append(f"an unflagged from-scratch deep-model result at H{h}")
    if needed:
        return _not_answerable(topic, h, needed, foundation + scratch)
    best_foundation = _by_validation(pretrained)
    best_scratch = _by_validation([e for e in scratch if e.eligible])
    ratio, text = _ratio_text(best_foundation, best_scratch, analysis)
    paired = analysis.comparison(best_foundation, ROLE_PATCHTST)
    confirmed = paired is not None and paired.eligible and paired.outcome == OUTCOME_BETTER
    if ratio >= PURSUE_RATIO and confirmed:
        status = "yes: pre-training essential"
    elif ratio >= PURSUE_RATIO:
        status = "inconclusive"
    else:
        status = "no"
    detail = f"{text} (both picked by validation AUC; '>>' means >= 5% relative and a detectable gain over PatchTST)"
    if paired is not None and paired.eligible:
        detail += "; " + describe(paired)
    return Verdict(topic, h, status, _with_exclusions(detail, foundation + scratch))


def _from_outcomes(comparisons: list[Comparison]) -> str:
    outcomes = {c.outcome for c in comparisons}
    if OUTCOME_BETTER in outcomes:
        return "supported"
    if outcomes == {OUTCOME_WORSE}:
        return "contradicted"
    return "inconclusive"


def hypothesis_1(analysis: HorizonAnalysis) -> Verdict:
    topic, h = "H1: pretrained foundation models beat from-scratch PatchTST", analysis.horizon
    foundation = [e for e in analysis.experiments if e.family == "foundation"]
    compared = _eligible_vs_patchtst(analysis, _pretrained_foundation(foundation))
    needed = _needs_reference(analysis) + ([] if compared else [f"an unflagged Lag-Llama/TimesFM result with pretrained weights at H{h}"])
    if needed:
        return _not_answerable(topic, h, needed, _reference_list(analysis) + foundation)
    not_pretrained = [e.label for e in foundation if e.eligible and e.weights.kind != "pretrained"]
    detail = " | ".join(describe(c) for c in compared)
    if not_pretrained:
        detail += f" Not used (weights not pretrained): {', '.join(not_pretrained)}."
    return Verdict(topic, h, _from_outcomes(compared), _with_exclusions(detail, foundation))


def hypothesis_2(analysis: HorizonAnalysis) -> Verdict:
    topic, h = "H2: decoder-style (causal) vs encoder attention (patchtst-causal vs patchtst)", analysis.horizon
    causal = [e for e in analysis.experiments if e.model == CAUSAL_MODEL]
    compared = _eligible_vs_patchtst(analysis, causal)
    needed = _needs_reference(analysis) + ([] if compared else [f"an unflagged '{CAUSAL_MODEL}' result at H{h}"])
    if needed:
        return _not_answerable(topic, h, needed, _reference_list(analysis) + causal)
    outcomes = {c.outcome for c in compared}
    names = {OUTCOME_BETTER: "causal attention better", OUTCOME_WORSE: "encoder attention better"}
    status = names.get(next(iter(outcomes)), "no detectable difference") if len(outcomes) == 1 else "mixed"
    return Verdict(topic, h, status, _with_exclusions(" | ".join(describe(c) for c in compared), causal))


def hypothesis_3(analysis: HorizonAnalysis) -> Verdict:
    """Suits = AUC and Brier not detectably worse than the best classical classifier, and ECE no
    worse than the median ECE of the trained classifiers."""
    topic, h = "H3: probabilistic foundation outputs suit threshold classification", analysis.horizon
    foundation = [e for e in analysis.experiments if e.family == "foundation"]
    pretrained = [e for e in _pretrained_foundation(foundation) if e.eligible]
    classical = analysis.baselines.classical
    needed = []
    if not pretrained:
        needed.append(f"an unflagged Lag-Llama/TimesFM result with pretrained weights at H{h}")
    if classical is None or not classical.eligible:
        needed.append(f"an unflagged classical baseline at H{h} ({UNFLAGGED})")
    if needed:
        return _not_answerable(topic, h, needed, foundation + ([classical] if classical else []))
    classifiers = [e for e in analysis.experiments if e.eligible and e.family in ("classical", "transformer", "no-attention")]
    median_ece = float(np.median([e.mean_metric("test", "ece") for e in classifiers]))
    suits, fails, parts = [], [], []
    for experiment in pretrained:
        c = analysis.comparison(experiment, ROLE_CLASSICAL)
        if c is None or c.difference is None:
            parts.append(f"{experiment.label}: not compared with the classical baseline")
            continue
        ece = experiment.mean_metric("test", "ece")
        brier = c.brier_difference
        if c.outcome == OUTCOME_WORSE or brier.low > 0:
            fails.append(experiment)
            judgement = "does not suit: AUC or Brier detectably worse than the classical baseline"
        elif ece <= median_ece:
            suits.append(experiment)
            judgement = "suits"
        else:
            judgement = "ranking and Brier fine, but calibrated worse than the typical classifier"
        if experiment.mean_metric("test", "p_std") < NEARLY_CONSTANT_SD:
            judgement += " (note: predictions nearly constant)"
        parts.append(
            f"{describe(c)}; Brier diff {brier.estimate:+.4f} [{brier.low:+.4f}, {brier.high:+.4f}]; "
            f"ECE {ece:.3f} vs median {median_ece:.3f} over {len(classifiers)} unflagged classifiers => {judgement}"
        )
    status = "supported" if suits else "contradicted" if len(fails) == len(pretrained) else "inconclusive"
    return Verdict(topic, h, status, _with_exclusions(" | ".join(parts), foundation))


def hypothesis_4(analysis: HorizonAnalysis) -> Verdict:
    topic, h = "H4: attention is unnecessary (TimeMixer/DLinear vs transformers)", analysis.horizon
    no_attention = [e for e in analysis.experiments if e.family == "no-attention"]
    transformers = [e for e in analysis.experiments if e.family == "transformer"]
    needed = []
    if not any(e.eligible for e in no_attention):
        needed.append(f"an unflagged TimeMixer or DLinear result at H{h}")
    if not any(e.eligible for e in transformers):
        needed.append(f"an unflagged from-scratch transformer result at H{h}")
    if needed:
        return _not_answerable(topic, h, needed, no_attention + transformers)
    best_plain = _by_validation([e for e in no_attention if e.eligible])
    best_transformer = _by_validation([e for e in transformers if e.eligible])
    ratio, text = _ratio_text(best_plain, best_transformer, analysis)
    paired = analysis.comparison(best_plain, ROLE_PATCHTST)
    detail = f"{text} (both picked by validation AUC)"
    if paired is None or not paired.eligible or paired.difference is None:
        status = "inconclusive"
        detail += "; no unflagged paired test against PatchTST, point estimates only"
    else:
        detail += "; " + describe(paired)
        if paired.outcome == OUTCOME_WORSE:
            status = "contradicted"
        elif ratio >= 1.0 - EQUIVALENCE_BAND:
            status = "supported"
        else:
            status = "inconclusive"
    return Verdict(topic, h, status, _with_exclusions(detail, no_attention + transformers))


DECISION_RULES = (pursue_rule, equivalence_rule, attention_rule, pretraining_rule)
HYPOTHESES = (hypothesis_1, hypothesis_2, hypothesis_3, hypothesis_4)


def _with_next_step(verdict: Verdict, analysis: HorizonAnalysis) -> Verdict:
    """A 'not answerable yet' verdict also says what to run to answer it (next_steps.py)."""
    if verdict.status != STATUS_NOT_ANSWERABLE:
        return verdict
    step = answering_step(analysis.horizon, analysis.experiments, needs_weights="pretrained weights" in verdict.detail)
    return dataclasses.replace(verdict, detail=f"{verdict.detail} {step}")


def decision_table(analyses: list[HorizonAnalysis]) -> list[Verdict]:
    return [_with_next_step(rule(analysis), analysis) for rule in DECISION_RULES for analysis in analyses]


def hypothesis_verdicts(analyses: list[HorizonAnalysis]) -> list[Verdict]:
    return [_with_next_step(hypothesis(analysis), analysis) for hypothesis in HYPOTHESES for analysis in analyses]
