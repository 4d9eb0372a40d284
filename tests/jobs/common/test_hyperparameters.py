"""Issue 13 item 1: `--set` is checked on the host against each model's declared hyper-parameters
(jobs/catalog.py) before planning, and the declaration cannot drift from the jobs. Issue 34 item 1:
every job and `--set` resolve a spec's values through `Model.resolve`."""

import dataclasses
import json
import typing

import pytest
from click.testing import CliRunner

from jobs.baselines import sklearn_models
from jobs.catalog import BY_NAME, MODELS
from jobs.common.errors import JobError
from jobs.common.hyperparameters import HyperparameterError
from jobs.timer import job as timer_job
from jobs.timesfm.probability import DEPENDENCE
from jobs.timesfm.settings import Settings as TimesFMSettings
from jobs.torch_models import job as torch_job
from jobs.torch_models.job import INPUT_SETS, TRAINING_KEYS, Plan
from jobs.torch_models.layers import Pool
from jobs.torch_models.zoo import ARCHITECTURES
from orchestrator import registry
from orchestrator.cli import cli
from orchestrator.runs import make_spec as make_run_spec
from tests.support.helpers import make_spec, replace_experiment
from tests.support.run_key_matrix import MANIFEST

DECLARED = {m.name: m.hyperparameters for m in MODELS if m.entry is not None}
KIND_OF_DEFAULT = {bool: "bool", int: "int", float: "float", str: "choice", list: "floats"}


# -- the declaration agrees with the code that uses the values ------------------------------------------
@pytest.mark.parametrize("model", sorted(ARCHITECTURES))
def test_torch_declaration_matches_the_config_classes(model):
    architecture = ARCHITECTURES[model]
    data_keys = {f.name for f in dataclasses.fields(Plan)} - {"training", "architecture"}
    declared = DECLARED[model]
    assert set(declared) == set(TRAINING_KEYS) | data_keys | set(architecture.tunable())
    defaults = {**BY_NAME[model].defaults("full"), **architecture.tunable()}
    for key, default in defaults.items():
        assert declared[key].kind == KIND_OF_DEFAULT[type(default)], key
        assert BY_NAME[model].check({key: default}) == {key: default}
    assert declared["inputs"].options == INPUT_SETS
    if "pool" in declared:
        assert set(declared["pool"].options) <= set(typing.get_args(Pool))


@pytest.mark.parametrize("model", ["logreg", "logreg-vol", "gboost", "timesfm", "lagllama"])
@pytest.mark.parametrize("profile", ["quick", "full"])
def test_jobs_with_short_specs_take_every_default_from_the_catalog(model, profile):
    """These specs spell out a few keys; the catalog's `unspelled` values hold the rest, so every
    declared key has exactly one default per profile (that each sits inside its declaration is
    check_catalog's, run at import: test_catalog's broken-catalog cases)."""
    defaults = BY_NAME[model].job_defaults(profile)
    assert set(defaults) == set(DECLARED[model])


def test_timesfm_settings_are_the_catalog_declaration():
    fields = {f.name for f in dataclasses.fields(TimesFMSettings)}
    assert set(DECLARED["timesfm"]) == fields
    assert DECLARED["timesfm"]["dependence"].options == DEPENDENCE


def registry_spec(model: str, profile: str):
    """The spec `orch run` would write for the model's H1 experiment."""
    experiment = next(e for e in registry.EXPERIMENTS if e.model == model)
    return make_run_spec(experiment, MANIFEST, profile, registry.DEFAULT_SEED)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_timesfm_and_sklearn_jobs_start_from_the_catalog_defaults(profile):
    spec = registry_spec("timesfm", profile)
    settings = dataclasses.asdict(TimesFMSettings.from_spec(spec))
    expected = BY_NAME["timesfm"].job_defaults(profile)
    expected["flip_invariance"] = expected["mode"] == "zero-shot"  # None = the package default for the mode
    assert settings == {**expected, "probe_l2": tuple(expected["probe_l2"])}
    gboost = sklearn_models._hyperparameters(registry_spec("gboost", profile))
    assert gboost == BY_NAME["gboost"].job_defaults(profile)
    assert gboost["max_iter"] == {"quick": 200, "full": 400}[profile]


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_timer_spells_out_every_declared_key_and_its_job_runs_with_them(profile):
    fields = {f.name for f in dataclasses.fields(timer_job.Settings)}
    assert set(DECLARED["timer"]) == fields == set(BY_NAME["timer"].defaults(profile))
    settings = dataclasses.asdict(timer_job.Settings.from_spec(registry_spec("timer", profile)))
    defaults = BY_NAME["timer"].defaults(profile)
    assert settings == {**defaults, "probe_l2": tuple(defaults["probe_l2"])}


@pytest.mark.parametrize("model", sorted(ARCHITECTURES))
@pytest.mark.parametrize("profile", ["quick", "full"])
def test_the_torch_job_runs_with_the_resolved_values(model, profile):
    """The torch job's plan holds exactly what `Model.resolve` gave for the spec `orch run` writes."""
    spec = registry_spec(model, profile).model_copy(update={"hyperparameters": {"lr": 0.01}})
    resolved = BY_NAME[model].resolve(spec)
    assert resolved == {**BY_NAME[model].job_defaults(profile), "lr": 0.01}
    planned = torch_job.plan(spec, ARCHITECTURES[model])
    assert planned.training.lr == 0.01 and planned.size == resolved["size"]
    assert planned.architecture == {k: v for k, v in resolved.items() if k in ARCHITECTURES[model].tunable()}


def test_resolve_checks_the_defaults_too():
    """A job's defaults pass the same check as the spec's values (here: a bad unspelled default)."""
    logreg = BY_NAME["logreg"]
    broken = dataclasses.replace(logreg, unspelled={"quick": {"C": -1.0, "max_iter": 10}})
    with pytest.raises(HyperparameterError, match="'C' must be > 0"):
        broken.resolve(registry_spec("logreg", "quick"))


@pytest.mark.parametrize(
    ("model", "values", "canonical"),
    [
        ("logreg", {"C": 1}, {"C": 1.0}),
        ("patchtst", {"size": 2e6, "epochs": 3.0, "causal": True}, {"size": 2_000_000, "epochs": 3, "causal": True}),
        ("timesfm", {"flip_invariance": None, "probe_l2": 0.5}, {"flip_invariance": None, "probe_l2": [0.5]}),
    ],
)
def test_values_come_back_in_their_canonical_type(model, values, canonical):
    checked = BY_NAME[model].check(values)
    assert checked == canonical and {k: type(v) for k, v in checked.items()} == {
        k: type(v) for k, v in canonical.items()
    }


@pytest.mark.parametrize(
    ("model", "values", "message"),
    [
        ("dlinear", {"moving_avg": 24}, "'moving_avg' must be odd"),
        ("timesfm", {"probe_l2": [0.1, 0.0]}, "'probe_l2' must be > 0"),
        ("lagllama", {"series": "close"}, "'series' must be one of ['high', 'log-high']"),
        ("gboost", {"max_iter": True}, "'max_iter' must be a number"),
        ("autoformer", {"dropout": 1.0}, "'dropout' must be < 1"),
        ("patchtst", {"size": 10**400}, "'size' must be <= 1e+09"),
        ("patchtst", {"lr": -(10**400)}, "'lr' must be a finite number"),
    ],
)
def test_bad_values_are_refused_with_their_reason(model, values, message):
    with pytest.raises(HyperparameterError) as raised:
        BY_NAME[model].check(values)
    assert message in str(raised.value) and len(str(raised.value)) < 300


# -- on the host: refused before planning, one line, exit 2 -------------------------------------------
def orch(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("c=0.001", "unknown hyperparameter(s) ['c'] for logreg (did you mean 'C'?)"),
        ("seed=5", "'seed' is part of the experiment, not a hyperparameter; use --seeds"),
        ("slug=other-h1", "'slug' is part of the experiment"),
        ("k" * 100_000 + "=1", "(100002 characters)"),
        ("C=abc", "'C' must be a number, got 'abc'"),
        ("C=-1", "'C' must be > 0, got -1"),
        ("C=NaN", "'NaN' is not a finite number"),
        ("C=1e999", "'C' must be a finite number, got inf"),
        ('C={"a":1}', "'C' must be a number, got {'a': 1}"),
        ("max_iter=12.5", "'max_iter' must be a whole number"),
        ("C", "--set expects KEY=VALUE"),
    ],
)
def test_bad_set_is_refused_before_planning(orch_home, assignment, message):
    result = orch("run", "logreg-h1", "--set", assignment)
    assert result.exit_code == 2 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output[:500]
    assert len(result.output) < 600
    assert not orch_home["ORCH_RESULTS_DIR"].exists()  # nothing planned, staged or run


def test_set_must_suit_every_selected_experiment(orch_home):
    result = orch("plan", "logreg-h1", "patchtst-h1", "--set", "C=0.5")
    assert result.exit_code == 2
    assert "['C'] for patchtst" in result.output and "select only experiments that take it" in result.output


def test_equal_values_share_a_run_key(orch_home):
    keys = []
    for value in ("1", "1.0", "1e0"):
        result = orch("plan", "logreg-h1", "--set", f"C={value}", "--json")
        assert result.exit_code == 0, result.output
        keys.append(json.loads(result.output)[0]["run_key"])
    assert len(set(keys)) == 1
    other = orch("plan", "logreg-h1", "--set", "C=0.5", "--json")
    assert json.loads(other.output)[0]["run_key"] != keys[0]


@pytest.mark.parametrize(
    ("hyper", "message"),
    [
        ({"max_step": 5}, r"unknown hyperparameter\(s\) \['max_step'\] for timesfm \(did you mean 'max_steps'\?\)"),
        ({"finetune_params": "some"}, "'finetune_params' must be one of"),
        ({"batch_size": 0}, "'batch_size' must be >= 1"),
    ],
)
def test_the_timesfm_job_refuses_what_the_declaration_refuses(bundled_data, hyper, message):
    spec = make_spec(bundled_data[1], "timesfm", "timesfm", **hyper)
    with pytest.raises(JobError, match=message):
        TimesFMSettings.from_spec(spec)
    assert TimesFMSettings.from_spec(make_spec(bundled_data[1], "timesfm", "timesfm", lr=1)).lr == 1.0


def test_set_for_experiments_without_a_job_is_refused(orch_home, monkeypatch):
    replace_experiment(monkeypatch, "gboost-h3", model="not-written-yet")
    result = orch("plan", "gboost-h3", "--set", 'C={"a":1}')
    assert result.exit_code == 2 and "none of the selected experiments has a job" in result.output


def test_the_timer_job_refuses_what_the_declaration_refuses(bundled_data):
    spec = make_spec(bundled_data[1], "timer", "torch", lookback_patches=0)
    with pytest.raises(JobError, match="'lookback_patches' must be >= 1"):
        timer_job.Settings.from_spec(spec)
    settings = timer_job.Settings.from_spec(make_spec(bundled_data[1], "timer", "torch", probe_l2=0.5, max_steps=3.0))
    assert settings.probe_l2 == (0.5,) and settings.max_steps == 3


def test_the_cpu_kernels_switch_is_a_checked_hyperparameter_with_its_own_run_key(orch_home):
    """Issue 34: the torch models' one switch is declared, defaulted without changing any spec, and
    a run that sets it is another run."""
    default = orch("plan", "patchtst-h1", "--json")
    textbook = orch("plan", "patchtst-h1", "--set", "cpu_kernels=textbook", "--json")
    fast = orch("plan", "patchtst-h1", "--set", "cpu_kernels=fast", "--json")
    assert default.exit_code == textbook.exit_code == fast.exit_code == 0, textbook.output
    keys = [json.loads(result.output)[0]["run_key"] for result in (default, textbook, fast)]
    assert keys[0] != keys[1] and keys[0] != keys[2]  # spelled out, even as the default, it is in the spec
    assert "cpu_kernels" not in BY_NAME["patchtst"].defaults("quick")
    assert BY_NAME["patchtst"].job_defaults("quick")["cpu_kernels"] == "fast"
    refused = orch("plan", "patchtst-h1", "--set", "cpu_kernels=fastest")
    assert refused.exit_code == 2 and "'cpu_kernels' must be one of ['fast', 'textbook']" in refused.output
