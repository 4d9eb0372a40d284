"""Weights identity is checked, not asserted (issue 36 item 6): `orch weights import` compares the
files with the published facts each entry of orchestrator.weights.PUBLISHED declares; files that
differ install as kind `custom` (never `pretrained <hub id>`), `orch weights list` says how they
differ, and the job that loads weights refuses a weights.json that calls other files pretrained."""

import json
import os

import pytest
import torch
from click.testing import CliRunner

from jobs.common.errors import JobError
from jobs.timer import weights as timer_weights
from jobs.timer.model import TimerConfig, TimerForPrediction
from jobs.timer.published import CONFIG as TIMER_CONFIG
from jobs.timer.published import FACTS as TIMER_FACTS
from orchestrator.cli import cli
from orchestrator.weights import NO_FACTS, PUBLISHED
from shared_schema import WeightsManifest
from shared_schema.weights import ArchitectureFacts
from tests.support.checkpoints import save_lag_llama_checkpoint, write_timesfm_snapshot
from tests.support.helpers import REPO

ZERO_REVISION = "0" * 40
SMALL_TIMER = TimerConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)


def orch(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def small_timer_download(tmp_path):
    """A random-init Timer with a 2-layer, width-32 config, laid out as the published download."""
    folder = timer_weights.write_random_init(tmp_path / "made", SMALL_TIMER, seed=3)
    (folder / "weights.json").unlink()  # a download has none
    return folder


def installed(weights, model_dir: str) -> WeightsManifest:
    return WeightsManifest.model_validate_json((weights / model_dir / "weights.json").read_text())


def test_a_small_timer_imported_as_the_hub_model_is_custom_and_listed_so(orch_home, tmp_path):
    """The issue's case: a 2-layer, width-32 random Timer named as thuml/timer-base-84m."""
    imported = orch("weights", "import", "timer", str(small_timer_download(tmp_path)), "--revision", ZERO_REVISION)
    assert imported.exit_code == 0, imported.output
    assert "as custom weights, not the published checkpoint" in imported.output
    manifest = installed(tmp_path / "weights", "timer")
    assert manifest.kind == "custom" and manifest.hub_id is None
    assert "num_hidden_layers = 2, published 8" in manifest.identity and "hidden_size = 32" in manifest.identity
    assert "parameters, published 84,142,080" in manifest.identity
    listed = orch("weights", "list").output
    assert "custom" in listed and "pretrained" not in listed
    # the job reports what it loaded as custom, with no hub id to be mistaken for the published model
    source = timer_weights.resolve_weights(tmp_path / "weights").source
    assert source.kind == "custom" and source.hub_id is None


def test_a_weights_json_that_calls_other_files_pretrained_is_refused_by_the_job(tmp_path):
    folder = timer_weights.write_random_init(tmp_path, SMALL_TIMER)
    forged = WeightsManifest.model_validate_json((folder / "weights.json").read_text()).model_copy(
        update={"kind": "pretrained", "hub_id": "thuml/timer-base-84m", "revision": "main"}
    )
    (folder / "weights.json").write_text(forged.model_dump_json())
    with pytest.raises(JobError, match="says pretrained thuml/timer-base-84m, but these are not its weights"):
        timer_weights.resolve_weights(tmp_path)


def test_lag_llama_with_one_tensor_reshaped_is_custom(orch_home, tmp_path):
    ckpt = tmp_path / "lag-llama.ckpt"
    save_lag_llama_checkpoint(ckpt)
    state = torch.load(ckpt, weights_only=True)
    state["state_dict"]["model.transformer.wte.weight"] = torch.zeros(144, 93)
    torch.save(state, ckpt)
    assert orch("weights", "import", "lag-llama", str(ckpt), "--revision", "v1").exit_code == 0
    manifest = installed(tmp_path / "weights", "lagllama")
    assert manifest.kind == "custom" and manifest.hub_id is None
    assert "1 tensor(s) of another shape, e.g. model.transformer.wte.weight" in manifest.identity


def test_timesfm_with_a_reduced_architecture_file_is_custom(orch_home, tmp_path):
    download = tmp_path / "timesfm"
    write_timesfm_snapshot(download)
    (download / "timesfm_arch.json").write_text('{"num_layers": 2}\n')
    assert orch("weights", "import", "timesfm", str(download)).exit_code == 0
    manifest = installed(tmp_path / "weights", "timesfm")
    assert manifest.kind == "custom" and "timesfm_arch.json is present" in manifest.identity


def test_an_unreadable_checkpoint_is_refused_not_installed(orch_home, tmp_path):
    ckpt = tmp_path / "lag-llama.ckpt"
    save_lag_llama_checkpoint(ckpt)
    data = bytearray(ckpt.read_bytes())
    start = data.find(b"state_dict")  # inside data.pkl: the pickle stream no longer parses
    data[start - 4 : start + 40] = b"\xff" * 44
    ckpt.write_bytes(bytes(data))
    refused = orch("weights", "import", "lag-llama", str(ckpt), "--revision", "v1")
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert not (tmp_path / "weights" / "lagllama").exists()


def test_recorded_sha256_decides_and_every_fact_is_optional():
    facts = ArchitectureFacts(sha256={"model.safetensors": "a" * 64})
    assert facts.differences(files={"model.safetensors": "a" * 64}) == []
    assert facts.differences(files={"model.safetensors": "b" * 64}) == [
        f"model.safetensors sha256 {'b' * 12} is not the published {'a' * 12}"
    ]
    assert NO_FACTS.differences(files={"x": "c" * 64}) == []


def test_timer_facts_are_the_published_config_the_code_builds():
    """The facts and the code's default architecture (the published config) must not drift apart."""
    assert {key: TimerConfig().to_json()[key] for key in TIMER_CONFIG} == TIMER_CONFIG
    with torch.device("meta"):
        state = TimerForPrediction(TimerConfig()).state_dict()
    assert len(state) == TIMER_FACTS.tensor_count
    assert sum(tensor.numel() for tensor in state.values()) == TIMER_FACTS.parameters


def test_entries_declare_facts_in_one_table():
    """Every entry of the table is a PublishedWeights whose facts (possibly none) are its own."""
    declared = {name: entry.facts != NO_FACTS for name, entry in PUBLISHED.items()}
    assert declared["lag-llama"] and declared["timer"] and declared["timesfm"]
    lag_llama = PUBLISHED["lag-llama"].facts
    assert lag_llama.tensor_count == len(lag_llama.tensors) == 73
    params = json.loads((REPO / "tests/images/gluonts/fixtures/params.json").read_text())
    assert {name: tuple(shape) for name, shape in params.items()} == dict(lag_llama.tensors)


class _RunsCode:
    def __reduce__(self):
        return os.system, ("echo pwned",)


def test_a_checkpoint_whose_pickle_would_run_code_is_refused_at_import(orch_home, tmp_path):
    """Read without unpickling anything it names (shared_schema/checkpoints.py), refused by name."""
    ckpt = tmp_path / "lag-llama.ckpt"
    save_lag_llama_checkpoint(ckpt)
    state = torch.load(ckpt, weights_only=True)
    state["hyper_parameters"]["loss"] = _RunsCode()
    torch.save(state, ckpt)
    refused = orch("weights", "import", "lag-llama", str(ckpt), "--revision", "v1")
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "Error: refused: the pickle of lag-llama.ckpt names posix.system, which the published checkpoint does not "
        "(loading it could run that code)"
    ]
    assert not (tmp_path / "weights" / "lagllama").exists() and not list((tmp_path / "weights").glob(".import-*"))
