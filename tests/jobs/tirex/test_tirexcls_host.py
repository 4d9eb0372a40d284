"""TiRex 1.x classifier from the host (no tirex package here): its catalog rows, the licence `orch list`
and the README show because it restricts use, "needs weights" until `orch weights import tirexcls`,
and the Lightning model.ckpt installed as random-init (declared) or custom (an unverified import),
never as `pretrained NX-AI/TiRex`. The job is tested in its own environment (tests/images/tirex)."""

import json

import torch
from click.testing import CliRunner

from jobs.catalog import BY_NAME, MODELS
from orchestrator import registry
from orchestrator.cli import cli
from shared_schema import WeightsManifest

ZERO_REVISION = "0" * 40


def orch(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def save_lightning_checkpoint(path) -> None:
    """A Lightning-style checkpoint as tirex-ts reads it (hyper_parameters + state_dict; values do not matter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    hyper = {"model_config": {"input_patch_size": 16, "output_patch_size": 16}, "train_ctx_len": 128}
    torch.save({"hyper_parameters": hyper, "state_dict": {"out_norm.weight": torch.ones(32)}}, path)


def test_catalog_entry():
    entry = BY_NAME["tirexcls"]
    assert entry.ids == ("FD-35", "FD-36") and entry.env == "tirex" and entry.weights == "tirexcls"
    assert entry.family == entry.role == "foundation" and entry.entry == "jobs.tirex.tirexcls_job:run"
    assert entry.pretraining.cutoff.isoformat() == "2026-06-30" and not entry.pretraining.cutoff_published
    assert "NXAI Community" in entry.licence and "100M" in entry.licence


def test_only_a_licence_that_restricts_use_is_listed():
    assert [m.name for m in MODELS if m.licence is not None] == ["tirexcls"]
    assert "Licence of `tirexcls`: NXAI Community" in registry.model_list_markdown()


def test_list_shows_the_rows_with_env_cutoff_and_licence(orch_home):
    rows = {row["slug"]: row for row in json.loads(orch("list", "--json").output)}
    for slug, experiment_id in (("tirexcls-h1", "FD-35"), ("tirexcls-h3", "FD-36")):
        row = rows[slug]
        assert row["id"] == experiment_id and row["env"] == "tirex" and row["status"] == "needs weights"
        assert "pre-training data to 2026-06-30" in row["note"] and "licence: NXAI Community" in row["note"]
    assert "licence" not in rows["tirex2-h1"]["note"]  # Apache-2.0: nothing to warn about


def test_plan_needs_weights_until_a_random_init_import(orch_home, tmp_path):
    before = orch("plan", "tirexcls-h1", "--executor", "native")
    assert before.exit_code == 0 and "orch weights pull tirexcls" in before.output
    checkpoint = tmp_path / "download" / "model.ckpt"
    save_lightning_checkpoint(checkpoint)
    imported = orch("weights", "import", "tirexcls", str(checkpoint), "--random-init", "--revision", ZERO_REVISION)
    assert imported.exit_code == 0, imported.output
    manifest = WeightsManifest.model_validate_json((tmp_path / "weights" / "tirexcls" / "weights.json").read_text())
    assert manifest.kind == "random-init" and manifest.hub_id is None and list(manifest.files) == ["model.ckpt"]
    after = orch("plan", "tirexcls-h1", "--executor", "native")
    assert after.exit_code == 0 and "needs pretrained weights" not in after.output and "run" in after.output


def test_an_import_without_the_flag_is_custom_and_a_non_checkpoint_is_refused(orch_home, tmp_path):
    folder = tmp_path / "download"
    save_lightning_checkpoint(folder / "model.ckpt")
    assert orch("weights", "import", "tirexcls", str(folder), "--revision", ZERO_REVISION).exit_code == 0
    manifest = WeightsManifest.model_validate_json((tmp_path / "weights" / "tirexcls" / "weights.json").read_text())
    assert manifest.kind == "custom" and "unverified import" in manifest.identity
    fake = tmp_path / "fake" / "model.ckpt"
    fake.parent.mkdir()
    fake.write_bytes(b"not a zip")
    refused = CliRunner().invoke(cli, ["weights", "import", "tirexcls", str(fake), "--revision", ZERO_REVISION])
    assert refused.exit_code == 2 and "not a torch checkpoint" in refused.output
