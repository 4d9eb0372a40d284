"""benchmarks/bench_kernels.py, the whole-job benchmark behind every kept CPU kernel: its table
reports each variant's range and its ratio to the first, and a variant it does not know is refused
before any job runs."""

import importlib.util
import os
import subprocess
import sys

from tests.support.helpers import REPO

SCRIPT = REPO / "benchmarks" / "bench_kernels.py"
_spec = importlib.util.spec_from_file_location("bench_kernels", SCRIPT)
bench_kernels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_kernels)


def test_table_shows_ranges_and_the_ratio_to_the_first_variant():
    runs = {
        "fast": [{"cpu_s": 10.0, "wall_s": 6.0}, {"cpu_s": 12.0, "wall_s": 7.0}],
        "textbook": [{"cpu_s": 13.0, "wall_s": 8.0}, {"cpu_s": 9.0, "wall_s": 9.5}],
    }
    lines = bench_kernels.table([{"model": "patchtst", "profile": "full", "runs": runs}]).splitlines()
    assert lines[2] == "| patchtst | full | fast | 10.0-12.0 | x1.00 | 6.0-7.0 |"
    assert lines[3] == "| patchtst | full | textbook | 9.0-13.0 | x1.00 | 8.0-9.5 |"


def test_unknown_variant_is_refused_in_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--variants", "fast,fastest"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("--variants: unknown fastest; known: fast, textbook, spin, nospin")
    )
