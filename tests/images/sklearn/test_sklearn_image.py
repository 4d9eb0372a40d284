"""The sklearn image: its stack imports, and a baseline job runs end to end and validates."""

import importlib.metadata
import socket
from pathlib import Path

import pytest
from conftest import validate_outputs

REQUIREMENTS = Path("/app/images/sklearn/requirements.txt")


def test_stack_imports_at_pinned_versions():
    import numpy  # noqa: F401

    pins = dict(line.split("==") for line in REQUIREMENTS.read_text().splitlines() if "==" in line)
    for name in ("scikit-learn", "numpy", "pandas", "pyarrow", "pydantic", "scipy"):
        assert importlib.metadata.version(name) == pins[name], name


def test_has_non_root_user_and_no_network():
    import pwd

    assert pwd.getpwnam("orch").pw_uid == 1000  # the image's USER; executors run as the host's uid:gid
    with pytest.raises(OSError):
        socket.create_connection(("1.1.1.1", 53), timeout=2)


@pytest.mark.parametrize("model", ["logreg", "gboost"])
def test_baseline_job_end_to_end(model, make_spec, run_job):
    spec = make_spec(model, "sklearn", horizon=1, **({"max_iter": 30} if model == "gboost" else {}))
    done, out = run_job(spec)
    assert done.returncode == 0, done.stderr
    result = validate_outputs(out, spec)
    assert result.environment.packages["scikit-learn"] != "absent"
    assert 0.0 <= result.metrics["test"].auc <= 1.0


def test_bad_spec_fails_with_one_line_reason(make_spec, run_job):
    spec = make_spec("no-such-model", "sklearn")
    done, _ = run_job(spec)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("job failed:")
