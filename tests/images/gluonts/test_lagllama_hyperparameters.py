"""The catalog's hyper-parameter declaration (jobs/catalog.py, which `orch run --set`
is checked against on the host) agrees with the Lag-Llama job; the host suite checks the others."""

import datetime as dt

import pytest

from jobs.catalog import BY_NAME
from jobs.common.errors import JobError
from jobs.lagllama.data import SERIES
from jobs.lagllama.job import FINE_TUNE_KEYS, JOB_KEYS, _settings
from shared_schema import DatasetRef, ExperimentSpec, SplitDates


def spec(profile: str = "quick", **hyper) -> ExperimentSpec:
    return ExperimentSpec(
        id="FD-01",
        slug="lagllama-h1",
        model="lagllama",
        env="gluonts",
        horizon=1,
        threshold=0.01,
        context_length=80,
        split_dates=SplitDates(train_end=dt.date(2015, 1, 1), val_end=dt.date(2017, 1, 1)),
        dataset=DatasetRef(name="sp500", sha256="0" * 64),
        seed=0,
        profile=profile,
        hyperparameters=hyper,
    )


def test_declaration_matches_the_job():
    declared = BY_NAME["lagllama"].hyperparameters
    assert set(declared) == set(JOB_KEYS) | FINE_TUNE_KEYS and not set(JOB_KEYS) & FINE_TUNE_KEYS
    for profile in ("quick", "full"):
        defaults = BY_NAME["lagllama"].job_defaults(profile)
        assert set(defaults) == set(declared)
        assert BY_NAME["lagllama"].check(defaults) == defaults
    assert declared["series"].options == SERIES


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_the_job_starts_from_the_catalog_defaults(profile):
    defaults = BY_NAME["lagllama"].job_defaults(profile)
    job, settings = _settings(spec(profile=profile, **BY_NAME["lagllama"].defaults(profile)))
    assert job == {key: defaults[key] for key in JOB_KEYS}
    assert {name: getattr(settings, name) for name in FINE_TUNE_KEYS} == {k: defaults[k] for k in FINE_TUNE_KEYS}
    assert settings.lr == 5e-4 and settings.max_epochs == (1 if profile == "quick" else 50)


@pytest.mark.parametrize(
    ("hyper", "message"),
    [
        ({"learning_rate": 1e-4}, r"unknown hyperparameter\(s\) \['learning_rate'\]"),
        ({"mode": "few-shot"}, "'mode' must be one of"),
        ({"num_samples": 0}, "'num_samples' must be >= 1"),
        ({"lr": float("nan")}, "'lr' must be a finite number"),
    ],
)
def test_the_job_refuses_what_the_declaration_refuses(hyper, message):
    with pytest.raises(JobError, match=message):
        _settings(spec(**hyper))


def test_the_job_applies_the_checked_values():
    job, settings = _settings(spec(num_samples=7.0, lr=1))
    assert job["num_samples"] == 7 and isinstance(job["num_samples"], int)
    assert settings.lr == 1.0 and settings.max_epochs == BY_NAME["lagllama"].job_defaults("quick")["max_epochs"]
