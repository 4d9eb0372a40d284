"""What to run so that a 'not answerable yet' verdict gets an answer, with a time estimate.

Apart from the verdict rules on purpose: any rule that ends in 'not answerable yet' calls
`answering_step(horizon, experiments, ...)` with whatever results it has at hand. The estimate
comes only from full-profile runs already timed (quick runs say nothing about full training);
where none exist it says so instead of guessing.
"""

import statistics

from orchestrator import registry
from orchestrator.report.load import SeedGroup

FULL_SEEDS = 3  # an unflagged result needs the full profile and >= 2 seeds; 3 gives a spread


def answering_command(horizon: int, seeds: int = FULL_SEEDS) -> str:
    return f"orch run --all --horizon {horizon} --profile full --seeds {seeds}"


def full_run_estimate(horizon: int, experiments: list[SeedGroup], seeds: int = FULL_SEEDS) -> str:
    """Seeds x the median past full-profile job time of each runnable experiment at this horizon."""
    slugs = [e.slug for e in registry.EXPERIMENTS if e.horizon == horizon and e.implemented]
    seconds = {}
    for experiment in experiments:
        if experiment.spec.profile == "full" and experiment.spec.slug in slugs:
            seconds[experiment.spec.slug] = statistics.median(
                run.result.timings.total_seconds for run in experiment.runs
            )
    untimed = len(slugs) - len(seconds)
    if not seconds:
        return f"{len(slugs)} experiments x {seeds} seeds; no full-profile run timed yet, so no estimate"
    minutes = seeds * sum(seconds.values()) / 60
    text = f"about {minutes:.0f} min for the {len(seconds)} experiment(s) with a timed full-profile run (on the machine that ran them)"
    return text + (f", plus {untimed} not timed yet" if untimed else "")


def answering_step(horizon: int, experiments: list[SeedGroup], needs_weights: bool = False) -> str:
    """One sentence: the command(s) that would make the verdict answerable, and the estimate."""
    weights = (
        "`orch weights pull lag-llama`, `orch weights pull timesfm` and `orch weights pull timer` "
        "(or `orch weights import NAME PATH`), then "
        if needs_weights
        else ""
    )
    return f"To answer it: {weights}`{answering_command(horizon)}` ({full_run_estimate(horizon, experiments)})."
