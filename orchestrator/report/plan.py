"""The pre-registered analysis plan, as data: every verdict the report gives is computed from the
comparisons listed here and nothing else.

Fixed before any result is seen, and independent of what happens to be in a results folder:
- each rule names its exact comparisons (subject model vs reference model, horizon, prediction column);
  where a reference is "the best of" a list, it is picked by *validation* AUC among unflagged results,
  and the test is then made against exactly that model;
- each rule is one multiplicity family; Holm's correction runs over every comparison the plan lists
  for it (a comparison without results counts as p = 1), so the family never changes with what ran;
- margins: the research plan's percentages ("5%", "+-2%") are *relative to PatchTST's AUC*. They are
  fixed here in AUC points by multiplying with the published PatchTST AUC of each horizon (0.706 at
  H1, 0.618 at H3), so no margin depends on the data. The report states both forms;
- every rule pre-registers the smallest effect it cares about: its margin for equivalence and
  non-inferiority, 1.5x its margin for a superiority margin (the test's null *is* the margin), else 2%
  relative (the plan's own "within +-2% = no difference" threshold). A test that did not pass and
  could not have found that effect with 80% power reads "inconclusive (underpowered)", never "no";
  an "all" rule needs 80% for the rule as a whole (`Rule.comparison_power`);
- tests (one-sided unless noted, Student t statistic with the paired block-bootstrap standard error
  plus seed variance): superiority (H0: diff <= margin, the margin 0 unless stated), non-inferiority
  (H0: diff <= -margin), equivalence (TOST, H0: |diff| >= margin), two-sided (H0: diff = 0).
"""

from dataclasses import dataclass
from typing import Literal

from orchestrator import registry

ALPHA = 0.05
POWER = 0.80
# The published PatchTST (2M) test AUCs the research plan starts from.
PUBLISHED_PATCHTST_AUC = {1: 0.706, 3: 0.618}
HORIZONS = registry.HORIZONS  # the catalog's

Test = Literal["superiority", "non-inferiority", "equivalence", "two-sided"]
# How a rule's comparisons combine into its verdict.
Combine = Literal["any", "all"]


def _family(role: str) -> tuple[str, ...]:
    """Every runnable catalog model with this role (jobs/catalog.py), in catalog order: a model cannot
    be left out of the plan by forgetting it here. Models that can never run (no job, no public
    weights) are left out, as a comparison that can never have results only lowers a Holm family's power."""
    return tuple(dict.fromkeys(e.model for e in registry.EXPERIMENTS if e.role == role and e.unavailable is None))


FOUNDATION = _family("foundation")
# The 2026 foundation models (issue 33), named here until the catalog marks a model's generation: the
# plan lists them whether or not results exist, so their comparisons read "not answerable yet" until
# then, and their family's Holm size never changes with what ran.
FOUNDATION_2026 = ("chronos2", "tirex2", "patchtstfm", "ttm", "tirexcls")
# H1 and its control stay the family the seed registered (Lag-Llama, TimesFM, Timer): the 2026 models
# are asked the same question in their own family (F26), so adding them changes no registered test.
SEED_FOUNDATION = tuple(m for m in FOUNDATION if m not in FOUNDATION_2026)
# PatchTST-FM: PatchTST's architecture pre-trained as a foundation model (transfer, same architecture).
PATCHTST_FM = "patchtstfm"
TRANSFORMERS = _family("transformer")
NO_ATTENTION = _family("no-attention")
FROM_SCRATCH = TRANSFORMERS + NO_ATTENTION
REFERENCE = registry.REFERENCE_MODEL
SAME_INPUT_CONTROL = registry.SAME_INPUT_CONTROL
CLASSICAL_BASELINES = _family("baseline")


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: an exact model, or the validation-best of a list of models."""

    models: tuple[str, ...]
    column: str = "p"  # predictions column scored: 'p', or 'point_score' for the point-forecast arm
    pretrained: bool = False  # only results whose weights are pretrained count

    @property
    def picked_by_validation(self) -> bool:
        return len(self.models) > 1

    def describe(self) -> str:
        name = self.models[0] if len(self.models) == 1 else f"best by validation AUC of {{{', '.join(self.models)}}}"
        extras = [
            text
            for flag, text in ((self.pretrained, "pretrained weights"), (self.column != "p", f"column {self.column}"))
            if flag
        ]
        return name + (f" ({', '.join(extras)})" if extras else "")


@dataclass(frozen=True)
class Margin:
    relative: float  # share of PatchTST's published AUC

    def points(self, horizon: int) -> float:
        return self.relative * PUBLISHED_PATCHTST_AUC[horizon]

    def describe(self, horizon: int) -> str:
        return f"{self.relative:.0%} relative = {self.points(horizon):.4f} AUC points at H{horizon}"


NO_MARGIN = Margin(0.0)
PURSUE_MARGIN = Margin(0.05)
EQUIVALENCE_MARGIN = Margin(0.02)
# A margin rule tests H0: gain <= margin, which no test can pass with 80% power at a gain *at* the margin;
# the gain it is powered for is 1.5x the margin (7.5% relative), the smallest gain worth pursuing past it.
PURSUE_POWERED_GAIN = Margin(0.075)


@dataclass(frozen=True)
class PlannedComparison:
    subject: Arm
    reference: Arm
    horizon: int

    def describe(self) -> str:
        return f"H{self.horizon}: {self.subject.describe()} vs {self.reference.describe()}"


@dataclass(frozen=True)
class Rule:
    key: str
    claim: str
    test: Test
    margin: Margin
    decision: Combine  # any: the claim holds if one comparison passes; all: only if every one does
    comparisons: tuple[PlannedComparison, ...]
    yes: str
    no: str
    # The smallest true difference worth finding (AUC points via PatchTST's published AUC): below
    # 80% power at it, a failed test says "cannot tell", not "no". Equals the margin where there is one.
    smallest_effect: Margin
    # The reference must rank detectably better than chance: "A ~ B" says nothing when B is noise.
    reference_above_chance: bool = False
    holm: bool = True  # False for 'all' rules: an intersection-union test needs no adjustment

    def family_size(self) -> int:
        return len(self.comparisons)

    def comparison_power(self) -> float:
        """Power each comparison needs: POWER for one comparison; for an "all" rule POWER^(1/m), m its
        comparisons per horizon, so that the whole rule (every comparison passing) has POWER."""
        if self.decision != "all":
            return POWER
        per_horizon = max(sum(c.horizon == h for c in self.comparisons) for h in HORIZONS)
        return POWER ** (1.0 / max(per_horizon, 1))

    def effect_of_interest(self, horizon: int) -> float:
        return self.smallest_effect.points(horizon)


def _pairs(
    subjects: tuple[str, ...], reference: Arm, pretrained: bool = False, column: str = "p"
) -> tuple[PlannedComparison, ...]:
    return tuple(
        PlannedComparison(Arm((subject,), column, pretrained), reference, horizon)
        for horizon in HORIZONS
        for subject in subjects
    )


def _point_vs_distribution() -> tuple[PlannedComparison, ...]:
    return tuple(
        PlannedComparison(Arm((model,), "p", True), Arm((model,), "point_score", True), horizon)
        for horizon in HORIZONS
        for model in FOUNDATION
    )


PATCHTST = Arm((REFERENCE,))
BEST_TRANSFORMER = Arm(TRANSFORMERS)
BEST_FROM_SCRATCH = Arm(FROM_SCRATCH)
OTHERS_THAN_REFERENCE = tuple(m for m in FOUNDATION + FROM_SCRATCH if m != REFERENCE)
DEEP_MODELS = FROM_SCRATCH + (SAME_INPUT_CONTROL,) + FOUNDATION
BEST_CLASSICAL = Arm(CLASSICAL_BASELINES)
# Every foundation model, the 2026 ones included whether or not the catalog lists them yet.
ALL_FOUNDATION = FOUNDATION + tuple(m for m in FOUNDATION_2026 if m not in FOUNDATION)
# Margin-free rules look for effects of at least the plan's "no difference" band.
SMALLEST_EFFECT = EQUIVALENCE_MARGIN

PLAN: tuple[Rule, ...] = (
    Rule(
        "B1",
        "The validation-best deep model beats the validation-best classical baseline (else the deep models learned nothing new)",
        "superiority",
        NO_MARGIN,
        "any",
        tuple(PlannedComparison(Arm(DEEP_MODELS), BEST_CLASSICAL, h) for h in HORIZONS),
        "supported",
        "not supported",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "B2",
        "A pretrained foundation model beats the validation-best classical baseline",
        "superiority",
        NO_MARGIN,
        "any",
        _pairs(ALL_FOUNDATION, BEST_CLASSICAL, pretrained=True),
        "supported",
        "not supported",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "D1",
        "Any model >= 5% AUC over PatchTST -> pursue it",
        "superiority",
        PURSUE_MARGIN,
        "any",
        _pairs(OTHERS_THAN_REFERENCE, PATCHTST),
        "yes: pursue",
        "no",
        smallest_effect=PURSUE_POWERED_GAIN,
    ),
    Rule(
        "D2",
        "All deep models within +-2% of PatchTST -> architecture does not matter, go back to features",
        "equivalence",
        EQUIVALENCE_MARGIN,
        "all",
        _pairs(OTHERS_THAN_REFERENCE, PATCHTST),
        "yes: go back to features",
        "no",
        smallest_effect=EQUIVALENCE_MARGIN,
        holm=False,
    ),
    Rule(
        "D3",
        "TimeMixer ~ transformers -> attention unnecessary",
        "equivalence",
        EQUIVALENCE_MARGIN,
        "any",
        _pairs(("timemixer",), BEST_TRANSFORMER),
        "yes: attention unnecessary",
        "no",
        smallest_effect=EQUIVALENCE_MARGIN,
        reference_above_chance=True,
    ),
    Rule(
        "D4",
        "Foundation >> from-scratch -> pre-training essential",
        "superiority",
        PURSUE_MARGIN,
        "any",
        _pairs(FOUNDATION, BEST_FROM_SCRATCH, pretrained=True),
        "yes: pre-training essential",
        "no",
        smallest_effect=PURSUE_POWERED_GAIN,
    ),
    Rule(
        "H1",
        "H1: pretrained foundation models beat from-scratch PatchTST",
        "superiority",
        NO_MARGIN,
        "any",
        _pairs(SEED_FOUNDATION, PATCHTST, pretrained=True),
        "supported",
        "not supported",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "F26",
        "A 2026 foundation model beats PatchTST (Chronos-2, TiRex 2, PatchTST-FM, TTM)",
        "superiority",
        NO_MARGIN,
        "any",
        _pairs(FOUNDATION_2026, PATCHTST, pretrained=True),
        "supported",
        "not supported",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "T1",
        "Transfer, same architecture: PatchTST-FM (pre-trained) beats PatchTST trained from scratch",
        "superiority",
        NO_MARGIN,
        "any",
        _pairs((PATCHTST_FM,), PATCHTST, pretrained=True),
        "supported",
        "not supported",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "H1c",
        "H1 control: they also beat PatchTST on the same input (log High only), so transfer helps, not fewer inputs",
        "superiority",
        NO_MARGIN,
        "any",
        _pairs(SEED_FOUNDATION, Arm((SAME_INPUT_CONTROL,)), pretrained=True),
        "supported",
        "not supported",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "H2",
        "H2: decoder-style (causal) vs encoder attention (patchtst-causal vs patchtst)",
        "two-sided",
        NO_MARGIN,
        "any",
        _pairs(("patchtst-causal",), PATCHTST),
        "they differ",
        "no detectable difference",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "H3",
        "H3: probabilistic outputs (P(hit) from the distribution) beat point forecasts (point -> threshold) of the same run",
        "superiority",
        NO_MARGIN,
        "any",
        _point_vs_distribution(),
        "supported",
        "not supported",
        smallest_effect=SMALLEST_EFFECT,
    ),
    Rule(
        "H4",
        "H4: attention is unnecessary (TimeMixer/DLinear not worse than the best transformer by more than 2%)",
        "non-inferiority",
        EQUIVALENCE_MARGIN,
        "any",
        _pairs(NO_ATTENTION, BEST_TRANSFORMER),
        "supported",
        "not supported",
        smallest_effect=EQUIVALENCE_MARGIN,
        reference_above_chance=True,
    ),
)
