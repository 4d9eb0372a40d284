"""`orch weights import`: checkpoints downloaded elsewhere, in the published layouts (random values),
installed so that the jobs' own weights check accepts them exactly as after `orch weights pull`."""

import json

import pytest
from click.testing import CliRunner

from jobs.common.weights import verified_weights
from orchestrator.cli import cli
from orchestrator.fsutil import sha256_file
from shared_schema import WeightsManifest
from tests.support.checkpoints import COMMIT, save_lag_llama_checkpoint, write_timesfm_snapshot


def orch(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_hub_cache_snapshot_of_lag_llama_is_installed_like_a_pull(orch_home, tmp_path):
    snapshot = tmp_path / "hub" / "models--time-series-foundation-models--Lag-Llama" / "snapshots" / COMMIT
    save_lag_llama_checkpoint(snapshot / "lag-llama.ckpt")
    (snapshot / "README.md").write_text("# Lag-Llama\n")
    assert {row["id"]: row for row in json.loads(orch("list", "--json").output)}["FD-01"]["status"] == "needs weights"

    result = orch("weights", "import", "lag-llama", str(snapshot))
    assert result.exit_code == 0, result.output
    weights = tmp_path / "weights"
    folder, manifest = verified_weights(weights, "lagllama", "Lag-Llama", "orch weights pull lag-llama")
    assert manifest == WeightsManifest(
        model="lagllama",
        kind="pretrained",
        hub_id="time-series-foundation-models/Lag-Llama",
        revision=COMMIT,
        files={"lag-llama.ckpt": sha256_file(snapshot / "lag-llama.ckpt")},
        identity="matches time-series-foundation-models/Lag-Llama: 73 tensors, 2,449,299 parameters",
    )
    assert sorted(p.name for p in folder.iterdir()) == ["lag-llama.ckpt", "weights.json"]
    listed = {row["id"]: row for row in json.loads(orch("list", "--json").output)}
    assert listed["FD-01"]["status"] == "ready"


def test_bare_lag_llama_ckpt_needs_a_revision_and_junk_is_refused(orch_home, tmp_path):
    ckpt = tmp_path / "downloads" / "lag-llama.ckpt"
    save_lag_llama_checkpoint(ckpt)
    unknown = orch("weights", "import", "lag-llama", str(ckpt))
    assert unknown.exit_code == 2 and "pass --revision" in unknown.output
    assert orch("weights", "import", "lag-llama", str(ckpt), "--revision", "v1.0").exit_code == 0
    assert verified_weights(tmp_path / "weights", "lagllama", "Lag-Llama", "pull")[1].revision == "v1.0"

    junk = tmp_path / "junk.ckpt"
    junk.write_text("not a checkpoint")
    refused = orch("weights", "import", "lag-llama", str(junk), "--revision", "v1.0")
    assert refused.exit_code == 2 and "not a torch checkpoint" in refused.output
    missing = orch("weights", "import", "lag-llama", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    # the installed copy survived both refusals
    assert verified_weights(tmp_path / "weights", "lagllama", "Lag-Llama", "pull")[1].revision == "v1.0"


def test_unwritable_weights_cache_is_one_line(orch_home, tmp_path, monkeypatch):
    ckpt = tmp_path / "lag-llama.ckpt"
    save_lag_llama_checkpoint(ckpt)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("ORCH_WEIGHTS_DIR", str(tmp_path / "a-file" / "weights"))  # cannot be created, root or not
    refused = orch("weights", "import", "lag-llama", str(ckpt), "--revision", "v1.0")
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        f"Error: weights cache {tmp_path / 'a-file' / 'weights'} is not writable: Not a directory; "
        "fix its permissions or point ORCH_WEIGHTS_DIR elsewhere"
    ]


def test_local_dir_download_of_timesfm_is_installed_with_its_revision(orch_home, tmp_path):
    download = tmp_path / "timesfm-2.5"
    write_timesfm_snapshot(download)
    result = orch("weights", "import", "timesfm", str(download))
    assert result.exit_code == 0, result.output
    folder, manifest = verified_weights(tmp_path / "weights", "timesfm", "TimesFM", "orch weights pull timesfm")
    assert manifest.revision == COMMIT and manifest.hub_id == "google/timesfm-2.5-200m-flax"
    assert ".cache/huggingface/download/manifest.ocdbt.metadata" not in manifest.files
    assert {"_METADATA", "d/0a1b2c3d", "ocdbt.process_0/d/4e5f6a7b"} <= set(manifest.files)

    broken = tmp_path / "broken"
    write_timesfm_snapshot(broken)
    (broken / "_METADATA").unlink()
    refused = orch("weights", "import", "timesfm", str(broken))
    assert refused.exit_code == 2 and "missing _METADATA" in refused.output
    single = orch("weights", "import", "timesfm", str(download / "manifest.ocdbt"), "--revision", "x")
    assert single.exit_code == 2 and "pass the downloaded snapshot folder" in single.output


@pytest.mark.parametrize("name", ["lag-llama", "timesfm"])
def test_plan_points_at_weights_import_when_offline(orch_home, name):
    slug = {"lag-llama": "lagllama-h1", "timesfm": "timesfm-h1"}[name]
    [row] = json.loads(orch("plan", slug, "--json").output)
    assert row["action"] == "unavailable" and f"orch weights import {name} PATH" in row["reason"]


def test_declared_random_init_import_is_labelled_random_init(orch_home, tmp_path):
    """A test checkpoint in the published layout, imported with --random-init, is never the hub's
    model: weights.json (and so every result made from it) says random-init, with no hub id."""
    download = tmp_path / "timesfm-2.5"
    write_timesfm_snapshot(download)
    result = orch("weights", "import", "timesfm", str(download), "--random-init")
    assert result.exit_code == 0, result.output
    assert "as random-init weights" in result.output
    manifest = WeightsManifest.model_validate_json((tmp_path / "weights" / "timesfm" / "weights.json").read_text())
    assert manifest.kind == "random-init" and manifest.hub_id is None
    assert manifest.identity.startswith("declared random-init at import")


def test_import_of_weights_the_project_cannot_check_is_custom(orch_home, tmp_path):
    """tirex2's entry holds no facts about the published checkpoint: an import is only the importer's
    word, so it installs as custom (a pull from the hub would vouch for it), never pretrained."""
    download = tmp_path / "tirex-2"
    download.mkdir()
    (download / "config.json").write_text('{"model_type": "tirex2"}\n')
    (download / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    result = orch("weights", "import", "tirex2", str(download), "--revision", COMMIT)
    assert result.exit_code == 0, result.output
    manifest = WeightsManifest.model_validate_json((tmp_path / "weights" / "tirex2" / "weights.json").read_text())
    assert manifest.kind == "custom" and manifest.hub_id is None
    assert "unverified import" in manifest.identity
