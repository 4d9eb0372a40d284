"""The shared schema: round trips, strict rejections, version, and the exported JSON Schema files."""

import json
import math

import pytest
from pydantic import ValidationError

from shared_schema import JobResult, PredictionsFile, SplitMetrics
from shared_schema.export import SCHEMA_DIR, render_schemas
from tests.support.helpers import make_spec


def metrics(**override) -> dict:
    base = dict(
        n=10,
        base_rate=0.3,
        auc=0.6,
        accuracy=0.7,
        precision=0.5,
        recall=0.4,
        brier=0.2,
        log_loss=0.6,
        ece=0.05,
        p_min=0.1,
        p_max=0.9,
        p_std=0.2,
    )
    return {**base, **override}


def result_payload(manifest, **override) -> dict:
    payload = {
        "spec": make_spec(manifest, "logreg", "sklearn").model_dump(mode="json"),
        "metrics": {"val": metrics(), "test": metrics()},
        "decision_threshold": 0.3,
        "decision_rule": "test",
        "n_parameters": 26,
        "n_train": 100,
        "weights": {"kind": "from-scratch"},
        "timings": {"train_seconds": 1.0, "predict_seconds": 0.1, "total_seconds": 1.5},
        "environment": {"python": "3.11", "platform": "Linux-x86_64", "device": "cpu", "threads": 1, "packages": {}},
    }
    payload.update(override)
    return payload


def test_result_round_trip(synthetic_data):
    _, manifest = synthetic_data
    result = JobResult.model_validate(result_payload(manifest))
    again = JobResult.model_validate(json.loads(result.model_dump_json()))
    assert again == result
    assert again.schema_version == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"unexpected": 1}, "Extra inputs are not permitted"),
        ({"metrics": {"val": metrics(auc=math.nan), "test": metrics()}}, "finite number"),
        ({"metrics": {"val": metrics(brier=math.inf), "test": metrics()}}, "finite number"),
        ({"metrics": {"val": metrics(p_max=1.2), "test": metrics()}}, "less than or equal to 1"),
        ({"metrics": {"val": metrics(p_min=-0.1), "test": metrics()}}, "greater than or equal to 0"),
        ({"metrics": {"val": metrics()}}, "metrics missing"),
        ({"schema_version": 0}, "Input should be 1"),
        ({"weights": {"kind": "pretrained"}}, "need hub_id and sha256"),
    ],
)
def test_result_rejections(synthetic_data, change, message):
    _, manifest = synthetic_data
    with pytest.raises(ValidationError, match=message):
        JobResult.model_validate(result_payload(manifest, **change))


def test_spec_rejects_slug_horizon_mismatch(synthetic_data):
    _, manifest = synthetic_data
    payload = make_spec(manifest, "logreg", "sklearn").model_dump(mode="json")
    payload["horizon"] = 3
    with pytest.raises(ValidationError, match="must end with '-h3'"):
        type(make_spec(manifest, "logreg", "sklearn")).model_validate(payload)


def test_split_metrics_reject_inverted_range():
    with pytest.raises(ValidationError, match="p_min must not exceed p_max"):
        SplitMetrics.model_validate(metrics(p_min=0.9, p_max=0.1))


def predictions(**override) -> dict:
    base = {
        "dtypes": {"date": "date32[day]", "split": "string", "y_true": "int8", "p": "double"},
        "date": ["2020-01-01", "2020-01-02"],
        "split": ["val", "test"],
        "y_true": [0, 1],
        "p": [0.2, 0.8],
    }
    return {**base, **override}


def test_predictions_contract_accepts_and_rejects():
    assert len(PredictionsFile.model_validate(predictions()).p) == 2
    with pytest.raises(ValidationError, match="differ from contract"):
        PredictionsFile.model_validate(
            predictions(dtypes={"date": "string", "split": "string", "y_true": "int8", "p": "double"})
        )
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        PredictionsFile.model_validate(predictions(p=[0.2, 1.5]))
    with pytest.raises(ValidationError, match="no rows for split 'test'"):
        PredictionsFile.model_validate(predictions(split=["val", "val"]))
    with pytest.raises(ValidationError, match="Input should be 0 or 1"):
        PredictionsFile.model_validate(predictions(y_true=[0, 2]))


def test_predictions_point_score_column_is_nullable_and_checked():
    five = {"date": "date32[day]", "split": "string", "y_true": "int8", "p": "double", "point_score": "double"}
    assert PredictionsFile.model_validate(predictions(dtypes=five, point_score=[0.01, -0.02])).point_score == [
        0.01,
        -0.02,
    ]
    assert PredictionsFile.model_validate(predictions(dtypes=five, point_score=[None, None])).point_score == [
        None,
        None,
    ]
    assert PredictionsFile.model_validate(predictions()).point_score is None  # files written before the column
    with pytest.raises(ValidationError, match="one value \\(or null\\) per row"):
        PredictionsFile.model_validate(predictions(dtypes=five, point_score=[0.1]))
    with pytest.raises(ValidationError, match="finite number"):
        PredictionsFile.model_validate(predictions(dtypes=five, point_score=[float("nan"), 0.1]))
    with pytest.raises(ValidationError, match="must come together"):
        PredictionsFile.model_validate(predictions(point_score=[0.1, 0.2]))


def test_exported_json_schema_files_match_models():
    """Fails when a model changes without `orch schema export` being rerun."""
    rendered = render_schemas()
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.schema.json")}
    assert on_disk == rendered


def test_manifest_refuses_overlapping_or_unlisted_folds(synthetic_data):
    _, manifest = synthetic_data
    summary = manifest.splits
    fold = {"index": 0, "train_end": "2010-01-01", "val_end": "2011-01-01", "test_end": "2012-01-01", "splits": summary}
    payload = manifest.model_dump(mode="json")
    with pytest.raises(ValidationError, match="folds are listed exactly when"):
        type(manifest).model_validate({**payload, "folds": [fold]})
    overlapping = {**fold, "index": 1, "train_end": "2010-06-01", "val_end": "2011-06-01", "test_end": "2012-06-01"}
    with pytest.raises(ValidationError, match="overlaps fold 0"):
        type(manifest).model_validate({**payload, "split_scheme": "walk-forward", "folds": [fold, overlapping]})
    following = {**fold, "index": 1, "train_end": "2011-01-01", "val_end": "2012-01-01", "test_end": "2013-01-01"}
    assert (
        len(
            type(manifest).model_validate({**payload, "split_scheme": "walk-forward", "folds": [fold, following]}).folds
        )
        == 2
    )
