"""An imported Lag-Llama checkpoint is untrusted input (issue 36 item 5): it is read with
torch.load(weights_only=True), its published globals as inert stand-ins, and anything else a
pickle could run is refused with its name, before it runs."""

import functools
import os
import pickle

import pytest
import torch

from jobs.common.errors import JobError
from jobs.lagllama.checkpoint import (
    LEGACY_LOSS_MODULE,
    PUBLISHED_GLOBALS,
    read_checkpoint,
    save_published_checkpoint,
)
from jobs.lagllama.config import LagLlamaConfig
from jobs.lagllama.model import LagLlamaModule
from jobs.lagllama.published import PICKLE_GLOBALS


class _RunsCode:
    """What a hostile checkpoint pickles: unpickling it would call os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _hostile(path, payload) -> None:
    module = LagLlamaModule(LagLlamaConfig(n_layer=1))
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": {"model_kwargs": {}, "x": payload}}, path)


def test_a_checkpoint_that_would_run_code_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "ran"
    _hostile(tmp_path / "evil.ckpt", _RunsCode(marker))
    with pytest.raises(JobError, match="refused: .*(posix|os).system"):
        read_checkpoint(tmp_path / "evil.ckpt")
    assert not marker.exists()


def test_a_partial_of_anything_but_a_published_class_is_refused(tmp_path):
    _hostile(tmp_path / "partial.ckpt", functools.partial(print, "hello"))
    with pytest.raises(JobError, match="refused"):
        read_checkpoint(tmp_path / "partial.ckpt")


def test_the_published_layout_reads_with_weights_only_as_inert_stand_ins(tmp_path):
    path = tmp_path / "lag-llama.ckpt"
    save_published_checkpoint(path, LagLlamaModule(LagLlamaConfig(n_layer=1)))
    assert set(torch.serialization.get_unsafe_globals_in_checkpoint(path)) <= set(PUBLISHED_GLOBALS)
    assert set(PUBLISHED_GLOBALS) == set(PICKLE_GLOBALS)  # the host's import check allows exactly these
    hyper = read_checkpoint(path)["hyper_parameters"]
    loss, distr = hyper["loss"], hyper["model_kwargs"]["distr_output"]
    assert type(loss).__module__ == LEGACY_LOSS_MODULE and loss.beta == 0.0
    assert type(distr).__name__ == "StudentTOutput" and not hasattr(distr, "distribution")  # no gluonts code ran
    # torch's own default stays: nothing is left allow-listed after a read
    left = [entry[1] for entry in torch.serialization.get_safe_globals() if isinstance(entry, tuple)]
    assert not [name for name in left if name in PUBLISHED_GLOBALS or "new-object" in name]


def test_a_damaged_file_is_one_line(tmp_path):
    (tmp_path / "cut.ckpt").write_bytes(pickle.dumps({"state_dict": {}})[:5])
    with pytest.raises(JobError, match="not a readable torch checkpoint|refused"):
        read_checkpoint(tmp_path / "cut.ckpt")


def test_a_weights_json_that_calls_another_checkpoint_pretrained_is_refused(tmp_path):
    """The job checks identity too (jobs/lagllama/published.py): a smaller model is not the published one."""
    from jobs.lagllama.checkpoint import resolve_weights, write_random_init
    from shared_schema import WeightsManifest

    write_random_init(tmp_path, config=LagLlamaConfig(n_layer=2))
    manifest_file = tmp_path / "lagllama" / "weights.json"
    forged = WeightsManifest.model_validate_json(manifest_file.read_text()).model_copy(
        update={"kind": "pretrained", "hub_id": "time-series-foundation-models/Lag-Llama", "revision": "main"}
    )
    manifest_file.write_text(forged.model_dump_json())
    with pytest.raises(JobError, match="not its checkpoint: .*tensor\\(s\\) missing"):
        resolve_weights(tmp_path)
