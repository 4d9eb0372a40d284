"""The shared linear-probe protocol (jobs/common/probe.py) that Timer and TimesFM both use."""

import numpy as np
import pytest

from jobs.common.errors import JobError
from jobs.common.probe import P_CLIP, linear_probe, log_loss, require_both_classes, sigmoid


def test_sigmoid_is_clipped_and_never_overflows():
    p = sigmoid(np.array([-1e6, -800.0, 0.0, 800.0, 1e6]))
    assert p[0] == P_CLIP and p[-1] == 1 - P_CLIP and p[2] == 0.5
    assert np.all(np.isfinite(p)) and np.all(np.diff(p) >= 0)
    assert np.isclose(log_loss(np.array([1.0]), np.array([0.0])), -np.log(P_CLIP))


def test_probe_picks_the_strength_with_least_validation_loss_and_embeds_test_last():
    rng = np.random.default_rng(0)
    x = {name: rng.normal(size=(200, 3)) * 5 + 2 for name in ("train", "val", "test")}
    y = {name: (x[name][:, 0] > 2).astype(float) for name in x}
    asked: list[str] = []

    def embed(name):
        asked.append(name)
        return x[name]

    def fit(features, labels, l2):  # a fixed direction, shrunk by the penalty: the smallest l2 fits best
        assert np.allclose(features.mean(0), 0, atol=1e-9)  # standardised on the training rows
        return np.array([4.0 / (1 + l2), 0.0, 0.0]), 0.0

    probabilities, choice = linear_probe(
        embed=embed, train_y=y["train"], val_y=y["val"], strengths=(10.0, 0.01, 1.0), fit=fit
    )
    assert asked == ["train", "val", "test"]
    mean, std = x["train"].mean(0), x["train"].std(0)
    losses = {
        l2: log_loss(y["val"], sigmoid((x["val"] - mean) / std @ fit((x["train"] - mean) / std, None, l2)[0]))
        for l2 in (10.0, 0.01, 1.0)
    }
    assert choice.l2 == min(losses, key=losses.get) == 0.01 and np.isclose(choice.val_log_loss, losses[0.01])
    assert set(probabilities) == {"val", "test"} and probabilities["test"].shape == (200,)


def test_a_head_without_both_classes_is_refused_naming_what_needed_them():
    require_both_classes(np.array([0, 1, 0]), "the linear probe")
    with pytest.raises(JobError, match="^the classifier head needs both classes among the training windows$"):
        require_both_classes(np.zeros(5, dtype=np.int8), "the classifier head")
