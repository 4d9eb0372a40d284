"""Fairness of evaluation: a model's predictions do not depend on how many windows are scored at
once, and no test window is lost in a last partial batch (ProbTS #13), for every model family that
runs on this machine: every torch architecture, the sklearn baselines, Timer, and TimesFM's batching."""

import dataclasses

import numpy as np
import pytest
import torch

from jobs.baselines.sklearn_models import gradient_boosting, logreg_features
from jobs.catalog import BY_NAME, TIMER_QUICK
from jobs.common.dataset import load_dataset
from jobs.common.windows import make_windows
from jobs.timer.job import Samples, Scorer, Settings
from jobs.timer.model import TimerConfig, TimerForPrediction
from jobs.timesfm.data import batches as timesfm_batches
from jobs.torch_models.sizing import sized_config
from jobs.torch_models.trainer import CPU_EVAL_WINDOWS, predict_logits
from jobs.torch_models.zoo import ARCHITECTURES
from tests.support.helpers import make_spec

WINDOWS = 37  # not a multiple of any batch size below: every split ends in a partial batch
BATCH_SIZES = (1, 5, 16, 64)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_torch_predictions_do_not_depend_on_the_batch_size(name):
    architecture = ARCHITECTURES[name]
    config = sized_config(architecture, 30_000, context_length=32, n_features=5)
    torch.manual_seed(0)
    model = architecture.model(config)
    x = torch.randn(WINDOWS, 32, 5)
    whole = predict_logits(model, x, batch_size=WINDOWS, precision="fp32")
    assert whole.shape[0] == WINDOWS and np.isfinite(whole).all()
    assert np.std(whole) > 0  # a constant output would pass any comparison
    for size in BATCH_SIZES:
        batched = predict_logits(model, x, batch_size=size, precision="fp32")
        assert batched.shape == whole.shape, f"batch {size} returned {batched.shape[0]} of {WINDOWS} windows"
        np.testing.assert_allclose(batched, whole, rtol=1e-4, atol=1e-5, err_msg=f"{name}, batch {size}")


@pytest.fixture(scope="module")
def synthetic_dataset(synthetic_data):
    folder, manifest = synthetic_data
    spec = make_spec(manifest, "logreg", "sklearn")
    return spec, load_dataset(folder, spec)


@pytest.mark.parametrize("job", [logreg_features, gradient_boosting], ids=["logreg", "gboost"])
def test_sklearn_baselines_score_every_test_window(synthetic_dataset, job):
    spec, dataset = synthetic_dataset
    model = "gboost" if job is gradient_boosting else "logreg"
    spec = spec.model_copy(update={"model": model, "hyperparameters": {"max_iter": 20} if model == "gboost" else {}})
    output = job(spec, dataset, None)
    windows = make_windows(dataset, spec.horizon, spec.context_length, flat=True)
    assert len(output.test.p) == len(windows.test.y) > 0 and len(output.val.p) == len(windows.val.y)
    np.testing.assert_array_equal(output.test.dates, windows.test.dates)


def test_sklearn_predictions_do_not_depend_on_which_rows_are_scored_together(synthetic_dataset):
    """sklearn scores all rows in one call; scoring them in chunks must give the same numbers."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    spec, dataset = synthetic_dataset
    data = make_windows(dataset, spec.horizon, spec.context_length, flat=True)
    for model in (
        LogisticRegression(**BY_NAME["logreg"].job_defaults("full")),
        HistGradientBoostingClassifier(**{**BY_NAME["gboost"].job_defaults("full"), "max_iter": 20}),
    ):
        model.fit(data.train.x, data.train.y)
        whole = model.predict_proba(data.test.x)[:, 1]
        chunked = np.concatenate([model.predict_proba(part)[:, 1] for part in np.array_split(data.test.x, 7)])
        # windows are float32: BLAS may round differently by chunk shape, never by more than float32 noise
        np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6)


def test_timer_scores_do_not_depend_on_the_predict_batch_size():
    config = TimerConfig(
        input_token_len=8,
        hidden_size=32,
        intermediate_size=64,
        output_token_lens=(8,),
        num_hidden_layers=2,
        num_attention_heads=4,
    )
    torch.manual_seed(0)
    model = TimerForPrediction(config)
    series = np.cumsum(np.random.default_rng(0).standard_normal(400)) * 0.01 + 5.0
    rows = np.arange(60, 60 + WINDOWS)
    samples = Samples(rows, np.zeros(WINDOWS, dtype=np.int8), rows.astype("datetime64[D]"), series[rows] + 0.01)
    base = Settings(**{**TIMER_QUICK, "probe_l2": tuple(TIMER_QUICK["probe_l2"]), "predict_batch_size": WINDOWS})
    reference = Scorer(model, series, base, horizon=3, device=torch.device("cpu"))
    whole_points, whole_embeddings = reference.point_scores(samples), reference.embeddings(samples)
    assert whole_points.shape == (WINDOWS,) and whole_embeddings.shape[0] == WINDOWS
    for size in BATCH_SIZES:
        scorer = Scorer(
            model, series, dataclasses.replace(base, predict_batch_size=size), horizon=3, device=torch.device("cpu")
        )
        np.testing.assert_allclose(scorer.point_scores(samples), whole_points, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(scorer.embeddings(samples), whole_embeddings, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", BATCH_SIZES)
def test_timesfm_batches_cover_every_window_once(size):
    """TimesFM pads the last partial batch to the jitted size and cuts the padding off again:
    the batch bounds must cover every window exactly once."""
    bounds = list(timesfm_batches(WINDOWS, size))
    covered = np.concatenate([np.arange(start, stop) for start, stop in bounds])
    np.testing.assert_array_equal(covered, np.arange(WINDOWS))
    assert all(0 < stop - start <= size for start, stop in bounds)


def test_cpu_prediction_runs_at_most_cpu_eval_windows_at_once():
    architecture = ARCHITECTURES["patchtst"]
    model = architecture.model(sized_config(architecture, 30_000, context_length=32, n_features=5))
    seen = []
    model.register_forward_hook(lambda module, args, output: seen.append(args[0].shape[0]))
    x = torch.randn(2 * CPU_EVAL_WINDOWS + 5, 32, 5)
    logits = predict_logits(model, x, batch_size=4 * CPU_EVAL_WINDOWS, precision="fp32")
    assert seen == [CPU_EVAL_WINDOWS, CPU_EVAL_WINDOWS, 5]
    assert logits.shape == (len(x),)
