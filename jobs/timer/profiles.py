"""Timer job hyper-parameters per profile, read from the model catalog (jobs/catalog.py, where
they are declared and explained). Pure data (no torch import): the orchestrator reads it."""

from jobs.catalog import BY_NAME

FULL: dict[str, object] = BY_NAME["timer"].defaults("full")
QUICK: dict[str, object] = BY_NAME["timer"].defaults("quick")
