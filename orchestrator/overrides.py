"""`--set KEY=VALUE`: parsed, then checked against every selected model's declared hyper-parameters
before anything is planned, so a typo never runs the default model under a new run key."""

import json
from dataclasses import dataclass

from jobs.catalog import BY_NAME
from jobs.common.hyperparameters import HyperparameterError, UnknownHyperparameter, shown
from orchestrator.errors import UserError
from orchestrator.registry import Experiment, Profile
from shared_schema import ExperimentSpec

SPEC_FIELDS = frozenset(ExperimentSpec.model_fields) - {"hyperparameters"}
OWN_OPTION = {"seed": "--seeds", "profile": "--profile", "dataset": "--dataset"}


@dataclass(frozen=True)
class SpecDraft:
    """What `Model.resolve` reads of a spec, before the dataset (and so the spec) is known."""

    profile: Profile
    hyperparameters: dict[str, object]


class _NotFinite(Exception):
    pass


def _refuse_constant(name: str):
    raise _NotFinite(name)


def parse_value(raw: str) -> object:
    """JSON when it parses (numbers, true/false, lists), else the text itself. NaN/Infinity are
    refused here: JSON has no such numbers and a spec carrying them cannot be written."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except _NotFinite:
        raise UserError(f"--set: {shown(raw)} is not a finite number") from None
    except ValueError:
        return raw


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, object]:
    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=VALUE, got {shown(pair)}")
        if key in overrides:
            raise UserError(f"--set {shown(key)} given twice")
        if key in SPEC_FIELDS:
            option = OWN_OPTION.get(key)
            raise UserError(
                f"--set {key}: {key!r} is part of the experiment, not a hyperparameter"
                + (f"; use {option}" if option else "")
            )
        overrides[key] = parse_value(raw)
    return overrides


def checked_overrides(pairs: tuple[str, ...], experiments: list[Experiment], profile: Profile) -> dict[str, object]:
    """The overrides in canonical types (so `C=1` and `C=1.0` share a run key), resolved for every
    selected experiment that has a job exactly as its job will resolve them; else a one-line
    UserError naming the first that refuses."""
    overrides = parse_overrides(pairs)
    if not overrides:
        return overrides
    runnable = [e for e in experiments if e.implemented]
    if not runnable:
        raise UserError("--set: none of the selected experiments has a job to take hyperparameters")
    several_models = len({e.model for e in experiments}) > 1
    canonical: dict[str, object] = {}
    for experiment in runnable:
        try:
            draft = SpecDraft(profile, {**experiment.params(profile), **overrides})
            resolved = BY_NAME[experiment.model].resolve(draft)
            canonical = {key: resolved[key] for key in overrides}
        except HyperparameterError as exc:
            hint = (
                "; select only experiments that take it"
                if isinstance(exc, UnknownHyperparameter) and several_models
                else ""
            )
            raise UserError(f"--set: {exc} (experiment {experiment.id} {experiment.slug}){hint}") from None
    return canonical
