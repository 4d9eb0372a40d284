"""`orch weights`: offline pulls fail with a one-line reason and leave the cache untouched."""

import hashlib

from click.testing import CliRunner

from orchestrator.cli import cli
from shared_schema import WeightsManifest


def test_pull_offline_fails_cleanly(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_WEIGHTS_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["weights", "pull", "lag-llama"])
    assert result.exit_code == 2
    assert "could not pull time-series-foundation-models/Lag-Llama@main" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_list_reports_random_init_and_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_WEIGHTS_DIR", str(tmp_path))
    folder = tmp_path / "lagllama"
    folder.mkdir()
    (folder / "lag-llama.ckpt").write_bytes(b"weights")
    manifest = WeightsManifest(model="lagllama", kind="random-init",
                               files={"lag-llama.ckpt": hashlib.sha256(b"weights").hexdigest()})
    (folder / "weights.json").write_text(manifest.model_dump_json())
    result = CliRunner().invoke(cli, ["weights", "list"])
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "random-init" in lines["lag-llama"] and "absent" in lines["timesfm"]
