"""benchmarks/bench_kernels.py: the figures behind dropout.py's CPU thresholds still print, and
the alternatives it times compute what SDPA computes (the script asserts that before timing)."""

import os
import subprocess
import sys

from tests.helpers import REPO

SCRIPT = REPO / "benchmarks" / "bench_kernels.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--threads", "1", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_attention_and_words_sections_print_one_row_per_shape():
    done = _run("--sections", "attention,words", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("## attention")))
    rows = [row.split() for row in lines[header + 2 : header + 2 + 15]]
    assert [row[:2] for row in rows[:3]] == [["64", "7"], ["1600", "10"], ["64", "16"]]
    # batch, keys, scores, eval "sdpa / written ratio", fwd+bwd "sdpa / written ratio", attend's pick
    assert all(len(row) == 12 and row[-1] in ("sdpa", "written") for row in rows)
    assert rows[0][-1] == "written"  # 7 keys are short rows on every CPU
    assert any(line.startswith("## 64-bit mask words") for line in lines)


def test_unknown_section_is_refused_in_one_line():
    done = _run("--sections", "softmax,gemm")
    assert done.returncode == 2
    assert "--sections: unknown gemm" in done.stderr.strip().splitlines()[-1]
