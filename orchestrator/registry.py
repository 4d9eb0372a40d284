"""The experiment matrix: one experiment per catalog model and horizon (jobs/catalog.py holds the
models; nothing about a model is declared here).

Whether an experiment can run is not declared either: it is derived from whether its model has a
job entry point (`jobs.registry.ENTRYPOINTS`), so the list never hides what is still missing.
Models of the plan that cannot be run at all carry an `Unavailable` status and its one-line reason,
so they are listed (orch list, the report's coverage table) instead of silently dropped.
"""

from dataclasses import dataclass
from typing import Literal

from jobs import catalog
from jobs.catalog import HORIZONS, MODELS, Model, Pretraining, Resources, Unavailable
from jobs.registry import ENTRYPOINTS

Profile = Literal["quick", "full"]
CONTEXT_LENGTH = 80
DEFAULT_SEED = 0
# The plan's reference and H1's same-input control, for the report (which never imports jobs).
REFERENCE_MODEL = catalog.REFERENCE_MODEL
SAME_INPUT_CONTROL = catalog.SAME_INPUT_CONTROL


@dataclass(frozen=True)
class Experiment:
    id: str
    slug: str
    model: str
    env: str
    horizon: int
    family: str
    role: str
    hyperparameters: dict[str, dict]  # profile -> hyper-parameters
    resources: Resources
    context_length: int = CONTEXT_LENGTH
    weights: str | None = None  # name in orchestrator.weights.PUBLISHED when pretrained weights are needed
    pretraining: Pretraining | None = None
    unavailable: Unavailable | None = None
    note: str | None = None  # shown beside the status in `orch list` (e.g. what the quick profile runs)
    licence: str | None = None  # where the model's licence restricts use (jobs.catalog.Model.licence)

    @property
    def implemented(self) -> bool:
        return self.unavailable is None and self.model in ENTRYPOINTS

    def params(self, profile: Profile) -> dict:
        return dict(self.hyperparameters.get(profile, {}))


def experiments_of(model: Model) -> list[Experiment]:
    return [
        Experiment(
            id=experiment_id,
            slug=f"{model.slug_stem}-h{horizon}",
            model=model.name,
            env=model.env,
            horizon=horizon,
            family=model.family,
            role=model.role,
            hyperparameters={"quick": model.defaults("quick"), "full": model.defaults("full")},
            resources=model.resources,
            weights=model.weights,
            pretraining=model.pretraining,
            unavailable=model.unavailable,
            note=model.note,
            licence=model.licence,
        )
        for experiment_id, horizon in zip(model.ids, HORIZONS, strict=True)
    ]


EXPERIMENTS: list[Experiment] = [experiment for model in MODELS for experiment in experiments_of(model)]
BY_ID = {e.id: e for e in EXPERIMENTS}
BY_SLUG = {e.slug: e for e in EXPERIMENTS}


def model_list_markdown() -> str:
    """The README's model list (tests/jobs/test_catalog.py holds the README to it)."""
    lines = [
        "| ids | model | family | plan role | env | weights | pre-training data to |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        facts = model.pretraining
        cutoff = (
            "-"
            if facts is None
            else f"{facts.cutoff}{'' if facts.cutoff_published else ' (release; no cut-off published)'}"
        )
        status = f" ({model.unavailable.status})" if model.unavailable else ""
        lines.append(
            f"| {'/'.join(model.ids)} | `{model.name}`{status} | {model.family} | {model.role} | {model.env} "
            f"| {model.weights or '-'} | {cutoff} |"
        )
    restricted = [model for model in MODELS if model.licence is not None]
    if restricted:
        lines.append("")
        lines += [f"Licence of `{model.name}`: {model.licence}." for model in restricted]
    return "\n".join(lines) + "\n"
