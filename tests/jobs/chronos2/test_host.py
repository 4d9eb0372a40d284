"""Chronos-2 from the host (no chronos package here): `orch list` and `orch plan` show its rows and
say "needs weights" until `orch weights import chronos2`; a checkpoint that is not the published
120M model installs as `custom`, never as `pretrained amazon/chronos-2`. The job itself is tested in
its own environment (tests/images/chronos)."""

import json

import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from jobs.catalog import BY_NAME
from orchestrator.cli import cli
from shared_schema import WeightsManifest

ZERO_REVISION = "0" * 40


def orch(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def chronos2_download(folder, d_model: int, num_layers: int):
    """config.json + model.safetensors laid out as the hub's snapshot (tensor values do not matter here)."""
    folder.mkdir(parents=True)
    config = {"architectures": ["Chronos2Model"], "model_type": "t5", "d_model": d_model, "num_layers": num_layers}
    config["chronos_config"] = {"context_length": 8192, "input_patch_size": 16, "output_patch_size": 16}
    (folder / "config.json").write_text(json.dumps(config))
    save_file({"shared.weight": torch.zeros(2, d_model)}, str(folder / "model.safetensors"))
    return folder


def test_catalog_entry():
    entry = BY_NAME["chronos2"]
    assert entry.ids == ("FD-27", "FD-28") and entry.env == "chronos" and entry.weights == "chronos2"
    assert entry.family == entry.role == "foundation" and entry.pretraining.cutoff.year == 2025
    assert entry.defaults("quick")["inputs"] == entry.defaults("full")["inputs"] == "all"


def test_plan_needs_weights_until_import_and_a_small_checkpoint_is_custom(orch_home, tmp_path):
    listed = orch("list").output
    assert "chronos2-h1" in listed and "FD-28" in listed and "chronos" in listed
    before = orch("plan", "--model", "chronos2", "--executor", "native")
    assert before.exit_code == 0 and "orch weights import chronos2 PATH" in before.output
    small = chronos2_download(tmp_path / "small", d_model=32, num_layers=2)
    imported = orch("weights", "import", "chronos2", str(small), "--revision", ZERO_REVISION)
    assert imported.exit_code == 0, imported.output
    manifest = WeightsManifest.model_validate_json((tmp_path / "weights" / "chronos2" / "weights.json").read_text())
    assert manifest.kind == "custom" and manifest.hub_id is None
    assert "d_model = 32, published 768" in manifest.identity
    after = orch("plan", "--model", "chronos2", "--executor", "native")
    assert after.exit_code == 0 and "needs pretrained weights" not in after.output


def test_a_checkpoint_with_the_published_shape_installs_as_pretrained(orch_home, tmp_path):
    full = chronos2_download(tmp_path / "full", d_model=768, num_layers=12)
    assert orch("weights", "import", "chronos2", str(full), "--revision", ZERO_REVISION).exit_code == 0
    manifest = WeightsManifest.model_validate_json((tmp_path / "weights" / "chronos2" / "weights.json").read_text())
    assert manifest.kind == "pretrained" and manifest.hub_id == "amazon/chronos-2"
