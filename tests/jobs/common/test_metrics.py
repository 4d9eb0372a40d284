"""jobs/common/metrics.py: AUC, Brier, log loss, accuracy as scikit-learn computes them; calibration error and the validation-chosen threshold."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from jobs.common.metrics import auc_roc, choose_threshold, expected_calibration_error, split_metrics


def test_metrics_agree_with_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 500), 0, 1).round(2)  # rounding creates ties
    assert auc_roc(y, p) == pytest.approx(roc_auc_score(y, p))
    m = split_metrics(y, p, threshold=0.5)
    assert m.brier == pytest.approx(brier_score_loss(y, p))
    assert m.log_loss == pytest.approx(log_loss(y, np.clip(p, 1e-12, 1 - 1e-12)))
    assert m.accuracy == pytest.approx(((p >= 0.5) == y).mean())
    assert auc_roc(np.ones(5), np.linspace(0, 1, 5)) is None


def test_calibration_error_and_threshold():
    y = np.array([0] * 80 + [1] * 20)
    assert expected_calibration_error(y, np.full(100, 0.2)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.7)) == pytest.approx(0.5)
    p = np.concatenate([np.linspace(0, 0.4, 80), np.linspace(0.6, 1.0, 20)])
    assert choose_threshold(y, p) == pytest.approx(0.6)
