"""Turns command-line selections (ids, slugs, --model, --horizon, --all) into experiments."""

from orchestrator import registry
from orchestrator.errors import UserError
from orchestrator.registry import Experiment


def select(names: tuple[str, ...], all_: bool, models: tuple[str, ...], horizons: tuple[int, ...]) -> list[Experiment]:
    if not (names or all_ or models or horizons):
        raise UserError("nothing selected: name experiment ids/slugs, or use --all, --model or --horizon")
    chosen: list[Experiment] = list(registry.EXPERIMENTS) if (all_ or not names) else []
    for name in names:
        experiment = registry.BY_ID.get(name.upper()) or registry.BY_SLUG.get(name.lower())
        if experiment is None:
            raise UserError(f"unknown experiment {name!r} (see `orch list` for ids and slugs)")
        chosen.append(experiment)
    known_models = {e.model for e in registry.EXPERIMENTS}
    for model in models:
        if model not in known_models:
            raise UserError(f"unknown model {model!r}; known: {', '.join(sorted(known_models))}")
    if models:
        chosen = [e for e in chosen if e.model in models]
    if horizons:
        chosen = [e for e in chosen if e.horizon in horizons]
    unique = list({e.id: e for e in chosen}.values())
    if not unique:
        raise UserError("the selection matches no experiment")
    return unique
