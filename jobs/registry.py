"""Model name -> (environment, entry function), from the model catalog. Entry modules are imported
lazily, so an env loads only its own stack."""

import importlib
from collections.abc import Callable

from jobs.catalog import MODELS
from jobs.common.errors import JobError

# "module:function" taking (spec, dataset, weights_dir) and returning a ModelOutput, from the catalog.
ENTRYPOINTS: dict[str, tuple[str, str]] = {m.name: (m.env, m.entry) for m in MODELS if m.entry is not None}

# Per env, "module:function" taking (specs, dataset, weights_dir) for several seeds of one
# experiment and yielding one ModelOutput per spec, in order, each as soon as it is ready. Envs
# without one run a seed group by calling the single entry once per seed.
GROUP_ENTRYPOINTS: dict[str, str] = {
    "torch": "jobs.torch_models.multiseed:fit_predict_seeds",
}


def resolve(model: str, env: str) -> Callable:
    if model not in ENTRYPOINTS:
        raise JobError(f"unknown model {model!r}; known: {sorted(ENTRYPOINTS)}")
    expected_env, target = ENTRYPOINTS[model]
    if env != expected_env:
        raise JobError(f"model {model!r} runs in env {expected_env!r}, not {env!r}")
    module_name, func = target.split(":")
    return getattr(importlib.import_module(module_name), func)


def resolve_group(model: str, env: str) -> Callable:
    """The env's seed-group entry, or a loop over the single-run entry."""
    single = resolve(model, env)
    if env not in GROUP_ENTRYPOINTS:
        return lambda specs, dataset, weights_dir: (single(spec, dataset, weights_dir) for spec in specs)
    module_name, func = GROUP_ENTRYPOINTS[env].split(":")
    return getattr(importlib.import_module(module_name), func)
