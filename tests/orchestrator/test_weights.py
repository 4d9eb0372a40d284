"""`orch weights`: offline pulls fail with a one-line reason and leave the cache untouched."""

import hashlib

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from shared_schema import WeightsManifest


@pytest.mark.parametrize(
    ("name", "hub_id"), [("lag-llama", "time-series-foundation-models/Lag-Llama"), ("timer", "thuml/timer-base-84m")]
)
def test_pull_offline_fails_cleanly(tmp_path, monkeypatch, name, hub_id):
    monkeypatch.setenv("ORCH_WEIGHTS_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["weights", "pull", name])
    assert result.exit_code == 2
    assert f"could not pull {hub_id}@main" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_list_reports_random_init_and_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_WEIGHTS_DIR", str(tmp_path))
    folder = tmp_path / "lagllama"
    folder.mkdir()
    (folder / "lag-llama.ckpt").write_bytes(b"weights")
    manifest = WeightsManifest(
        model="lagllama", kind="random-init", files={"lag-llama.ckpt": hashlib.sha256(b"weights").hexdigest()}
    )
    (folder / "weights.json").write_text(manifest.model_dump_json())
    result = CliRunner().invoke(cli, ["weights", "list"])
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "random-init" in lines["lag-llama"] and "absent" in lines["timesfm"] and "absent" in lines["timer"]
