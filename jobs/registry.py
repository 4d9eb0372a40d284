"""Model name -> its job's entry points, from the model catalog. Entry modules are imported lazily,
so an env loads only its own stack."""

import importlib
from collections.abc import Callable

from jobs.catalog import MODELS
from jobs.common.errors import JobError

# "module:function" taking (spec, dataset, weights_dir) and returning a ModelOutput, from the catalog.
ENTRYPOINTS: dict[str, tuple[str, str]] = {m.name: (m.env, m.entry) for m in MODELS if m.entry is not None}

# Models whose job trains several seeds of one experiment in one process (`Model.group_entry`): a
# fact of the model, not of its env (Timer shares the torch env, not the torch job).
GROUP_ENTRYPOINTS: dict[str, str] = {m.name: m.group_entry for m in MODELS if m.group_entry is not None}


def _load(target: str) -> Callable:
    module_name, func = target.split(":")
    return getattr(importlib.import_module(module_name), func)


def resolve(model: str, env: str) -> Callable:
    if model not in ENTRYPOINTS:
        raise JobError(f"unknown model {model!r}; known: {sorted(ENTRYPOINTS)}")
    expected_env, target = ENTRYPOINTS[model]
    if env != expected_env:
        raise JobError(f"model {model!r} runs in env {expected_env!r}, not {env!r}")
    return _load(target)


def resolve_group(model: str, env: str) -> Callable:
    """The model's seed-group entry, or a loop over its single-run entry."""
    single = resolve(model, env)
    if model not in GROUP_ENTRYPOINTS:
        return lambda specs, dataset, weights_dir: (single(spec, dataset, weights_dir) for spec in specs)
    return _load(GROUP_ENTRYPOINTS[model])
