"""From a random-init checkpoint to a labelled result, end to end on the host: `orch weights import
ttm PATH --random-init` of a tiny TTM saved in the published layout (granite-tsfm's own config class and
`save_pretrained`, in the granite venv), after which `orch plan` runs what it refused, the native job
loads it as published weights are loaded, and the result, `orch validate`, `orch status` and `orch list`
all say random-init (never a finding)."""

import json
import subprocess

from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.native import VenvManager
from shared_schema import JobResult
from tests.support.helpers import REPO

WRITE_TINY_TTM = """
import sys, torch
from tsfm_public.models.tinytimemixer import TinyTimeMixerConfig, TinyTimeMixerForPrediction
torch.manual_seed(2)
config = TinyTimeMixerConfig(context_length=90, prediction_length=16, patch_length=10, patch_stride=10, d_model=16,
                             num_layers=2, decoder_d_model=8, decoder_num_layers=2, num_input_channels=1)
TinyTimeMixerForPrediction(config).save_pretrained(sys.argv[1])
"""


def orch(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_imported_random_init_ttm_runs_natively_and_is_labelled(orch_home, venv_cache, tmp_path, monkeypatch):
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)  # the user's uv cache, as test_env_suites builds it
    python = VenvManager(venv_cache / "venvs").ensure(ENVIRONMENTS["granite"], print)
    download = tmp_path / "ttm-download"
    subprocess.run([str(python), "-c", WRITE_TINY_TTM, str(download)], cwd=REPO, check=True, timeout=300)

    [before] = json.loads(orch("plan", "ttm-h1", "--json").output)
    assert before["action"] == "unavailable" and "orch weights import ttm PATH" in before["reason"]
    imported = orch("weights", "import", "ttm", str(download), "--random-init")
    assert imported.exit_code == 0 and "ttm as random-init weights" in imported.output, imported.output
    [after] = json.loads(orch("plan", "ttm-h1", "--json").output)
    assert after["action"] == "run", after

    ran = orch("run", "ttm-h1", "--executor", "native", "--set", "mode=zero-shot")
    assert ran.exit_code == 0, ran.output
    [folder] = [p for p in (tmp_path / "results").iterdir() if p.name.startswith("ttm-h1-s0-")]
    result = JobResult.model_validate_json((folder / "result.json").read_text())
    assert result.weights.kind == "random-init" and result.weights.hub_id is None
    assert result.provenance.executor == "native" and result.spec.profile == "quick"
    assert 0.0 < result.metrics["val"].auc < 1.0

    assert "[random-init weights]" in orch("validate", str(folder)).output
    status = orch("status").output
    assert folder.name[:20] in status and "random-init" in status
    [listed] = [row for row in json.loads(orch("list", "--json").output) if row["slug"] == "ttm-h1"]
    assert listed["status"] == "has result" and listed["last_weights"] == "random-init"
