"""shared_schema/job_command.py: the one spelling of a job's command line, which the job's own parser
(jobs/__main__.py) accepts; seeds of a group come as further --spec/--out pairs, in order."""

import subprocess
import sys

from shared_schema.job_command import job_argv
from tests.support.helpers import REPO


def test_pairs_in_order_and_weights_last():
    argv = job_argv("py", spec="s0", data="d", out="o0", more=[("s1", "o1")], weights="w")
    assert argv == ["py", "-m", "jobs", "run", "--spec", "s0", "--data", "d", "--out", "o0"] + [
        "--spec",
        "s1",
        "--out",
        "o1",
        "--weights",
        "w",
    ]
    assert "--weights" not in job_argv("py", spec="s", data="d", out="o")


def test_the_jobs_parser_reads_it(tmp_path):
    """A spec file that does not exist gets past the parser and fails in the job, in one line."""
    argv = job_argv(sys.executable, spec=str(tmp_path / "absent.json"), data=str(tmp_path), out=str(tmp_path / "o"))
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "usage:" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("job failed:")
