"""The environment identity of a notebook run: part of its run key.

A notebook installs the env's pinned requirements on a machine orch never saw (on a GPU, plus the
CUDA plugin the lock leaves out), so its identity is the same recipe as a local environment's
(lock hash + Python + platform) under a `notebook-` marker: re-ingesting the same run is a cache
hit, and a local `orch plan` of the experiment reads an ingested run as "environment changed"
instead of passing it off as a run of its own environment.
"""

from orchestrator.environments import Environment
from shared_schema.identity import FINGERPRINT_PREFIX, lock_hash


def lock_id(env: Environment) -> str:
    """The env's requirements lock, as a notebook embeds it at generation time."""
    return FINGERPRINT_PREFIX + lock_hash(env.requirements.read_bytes())


def notebook_env_fingerprint(lock: str, python_version: str, platform: str) -> str:
    """`python_version` as a job reports it ('3.12.4'); `platform` as 'System-machine'."""
    major_minor = ".".join(python_version.split(".")[:2])
    return f"notebook-{lock}-py{major_minor}-{platform}"
