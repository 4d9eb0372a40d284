"""Executor names: the one place they are spelled. `orch run --executor` offers the host's
selectable ones (orchestrator/executors keys its table by them), and a result's provenance records
which of all of them made it. Standard library only, so compose/run.py and every job image can
import it."""

NATIVE = "native"
DOCKER = "docker"
RAY = "ray"
EXISTING_PYTHON = "existing-python"  # `--python ENV=PATH`: an interpreter that is already there
COMPOSE = "compose"  # compose/run.py, inside an image, with no host
NOTEBOOK = "notebook"  # a generated notebook run elsewhere, brought in by `orch ingest`

PROVENANCE_EXECUTORS = (NATIVE, DOCKER, RAY, EXISTING_PYTHON, COMPOSE, NOTEBOOK)
