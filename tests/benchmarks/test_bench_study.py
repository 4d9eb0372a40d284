"""`orch bench study` runs the real study command and prints the per-job time split; a CUDA
request without a GPU is refused in one line."""

import os
import re
import subprocess
import sys

from click.testing import CliRunner

from orchestrator.cli import cli
from tests.support.helpers import REPO


def test_study_prints_per_job_split_and_end_to_end_time(orch_home):
    env = {**os.environ, **{k: str(v) for k, v in orch_home.items()}}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "bench",
            "study",
            "--device",
            "cpu",
            "--skip-kernels",
            "--study",
            "logreg-h1",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("logreg-h1 "))
    seeds, finished = (int(v) for v in row.split()[1:3])
    wall, startup, data, train, predict = (float(v) for v in row.split()[-5:])
    assert (seeds, finished) == (1, 1) and wall > 0 and train >= 0 and predict >= 0
    assert abs(wall - (startup + data + train + predict)) < 0.2  # the split adds up to the job's wall time
    assert re.search(r"end-to-end study time: [\d.]+s .*GPU utilisation: n/a \(no CUDA device\)", done.stdout)
    assert not list((orch_home["ORCH_RESULTS_DIR"]).glob("logreg-h1-*"))  # the bench never touches real results


def test_cuda_bench_without_a_gpu_is_refused(monkeypatch):
    monkeypatch.setattr("orchestrator.commands.bench.discover_gpus", lambda: [])
    result = CliRunner().invoke(cli, ["bench", "study", "--device", "cuda"])
    assert result.exit_code == 2
    assert "nvidia-smi finds no CUDA device here" in result.output


def test_default_study_selection_reaches_the_script_as_one_argument():
    # The default selection is "--all": passed as its own token, the script's parser read it as an
    # unknown option and `orch bench study` failed before measuring anything.
    result = CliRunner().invoke(cli, ["bench", "study", "--device", "cpu", "--skip-kernels", "--skip-study"])
    assert result.exit_code == 0, result.output
