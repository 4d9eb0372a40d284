"""jobs/common/torch_setup.py: threads, seed and device, set the same way by every torch job."""

import pytest
import torch

from jobs.common.errors import JobError
from jobs.common.torch_setup import start_torch
from tests.support.helpers import make_spec


def test_threads_seed_and_device_follow_the_spec(bundled_data, monkeypatch):
    spec = make_spec(bundled_data[1], "chronos2", "chronos")
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        assert start_torch(spec.model_copy(update={"seed": 5})).type == "cpu"
        assert torch.get_num_threads() == 1
        first = torch.rand(3)
        start_torch(spec.model_copy(update={"seed": 5}))
        assert torch.equal(torch.rand(3), first)
        start_torch(spec.model_copy(update={"seed": 6}))
        assert not torch.equal(torch.rand(3), first)
    finally:
        torch.set_num_threads(before)


def test_an_absent_device_is_refused_before_any_work(bundled_data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(JobError, match="'cuda' was requested"):
        start_torch(make_spec(bundled_data[1], "chronos2", "chronos").model_copy(update={"device": "cuda"}))
