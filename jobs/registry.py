"""Model name -> (environment, entry function). Imported lazily so an env loads only its stack."""

import importlib
from collections.abc import Callable

from jobs.common.errors import JobError

# "module:function" taking (spec, dataset, weights_dir) and returning a ModelOutput.
ENTRYPOINTS: dict[str, tuple[str, str]] = {
    "logreg": ("sklearn", "jobs.baselines.sklearn_models:logreg_features"),
    "logreg-vol": ("sklearn", "jobs.baselines.sklearn_models:logreg_volatility"),
    "gboost": ("sklearn", "jobs.baselines.sklearn_models:gradient_boosting"),
    "patchtst": ("torch", "jobs.torch_models.job:fit_predict"),
    "patchtst-causal": ("torch", "jobs.torch_models.job:fit_predict"),
    "itransformer": ("torch", "jobs.torch_models.job:fit_predict"),
    "timemixer": ("torch", "jobs.torch_models.job:fit_predict"),
    "informer": ("torch", "jobs.torch_models.job:fit_predict"),
    "autoformer": ("torch", "jobs.torch_models.job:fit_predict"),
    "fedformer": ("torch", "jobs.torch_models.job:fit_predict"),
    "etsformer": ("torch", "jobs.torch_models.job:fit_predict"),
    "crossformer": ("torch", "jobs.torch_models.job:fit_predict"),
    "dlinear": ("torch", "jobs.torch_models.job:fit_predict"),
    "armattn": ("torch", "jobs.torch_models.job:fit_predict"),
    "patchtst-200m": ("torch", "jobs.torch_models.job:fit_predict"),
    "timer": ("torch", "jobs.timer.job:run"),
    "patchtst-high": ("torch", "jobs.torch_models.job:fit_predict"),
    "lagllama": ("gluonts", "jobs.lagllama.job:run"),
    "timesfm": ("timesfm", "jobs.timesfm.job:run"),
}

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
