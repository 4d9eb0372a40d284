"""jobs/common/settings.py: a job's frozen settings built by its catalog entry's one resolution."""

from dataclasses import FrozenInstanceError, dataclass, make_dataclass

import pytest

from jobs.catalog import BY_NAME
from jobs.common.hyperparameters import HyperparameterError
from jobs.common.settings import SpecSettings
from tests.support.helpers import make_spec

# A settings class with exactly the fields TiRex-2's catalog entry declares, as its job's Settings has.
TirexSettings = make_dataclass(
    "TirexSettings", [(key, object) for key in BY_NAME["tirex2"].hyperparameters], bases=(SpecSettings,), frozen=True
)


def test_profile_defaults_then_spec_values_and_lists_become_tuples(bundled_data):
    settings = TirexSettings.from_spec(make_spec(bundled_data[1], "tirex2", "tirex", max_train_windows=7))
    assert settings.max_train_windows == 7
    assert settings.pad_context is BY_NAME["tirex2"].quick["pad_context"]
    assert settings.probe_l2 == tuple(BY_NAME["tirex2"].quick["probe_l2"])
    assert isinstance(settings.probe_l2, tuple)
    with pytest.raises(FrozenInstanceError):
        settings.mode = "linear-probe"


def test_an_undeclared_or_mistyped_value_fails_before_the_settings_exist(bundled_data):
    with pytest.raises(HyperparameterError, match="pad_contxt"):
        TirexSettings.from_spec(make_spec(bundled_data[1], "tirex2", "tirex", pad_contxt=False))
    with pytest.raises(HyperparameterError, match="max_train_windows"):
        TirexSettings.from_spec(make_spec(bundled_data[1], "tirex2", "tirex", max_train_windows=-1))


def test_a_settings_class_missing_a_declared_key_is_refused(bundled_data):
    @dataclass(frozen=True)
    class Short(SpecSettings):
        mode: str

    with pytest.raises(TypeError, match="unexpected keyword"):
        Short.from_spec(make_spec(bundled_data[1], "tirex2", "tirex"))
