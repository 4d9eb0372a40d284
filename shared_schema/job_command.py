"""The job's command line, spelled once for every way a job is started (native and existing-
interpreter processes, Docker containers, compose's runner): jobs/__main__.py parses it.

    python -m jobs run --spec SPEC.json --data DIR --out DIR [--spec SPEC.json --out DIR ...] [--weights DIR]

Standard library only, like shared_schema.executors, so compose/run.py inside an image can import it.
"""

from collections.abc import Sequence


def job_argv(
    python: str, *, spec: str, data: str, out: str, more: Sequence[tuple[str, str]] = (), weights: str | None = None
) -> list[str]:
    """argv of one job; `more` adds (spec, out) pairs: further seeds trained in the same process."""
    command = [python, "-m", "jobs", "run", "--spec", spec, "--data", data, "--out", out]
    for more_spec, more_out in more:
        command += ["--spec", more_spec, "--out", more_out]
    if weights is not None:
        command += ["--weights", weights]
    return command
