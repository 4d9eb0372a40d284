"""What a Ray task does on the node that runs one job: the native executor, on that node.

The task checks that the node would build the same environment and run the same job code the host
planned (so its result is the same cache entry), finds the dataset by content hash (the host's path
when the node shares it, else a per-node copy fetched once from the object store, sha256-verified),
runs the job in the env's pinned venv exactly as `--executor native` does, and returns the job's
two output files and its log as bytes. The host validates and commits them; nothing is written to
the host's results folder from here.
"""

import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.environments import code_sha256
from orchestrator.executors.base import JobRequest
from orchestrator.executors.native import NativeExecutor
from orchestrator.fsutil import atomic_write_bytes, sha256_file
from orchestrator.paths import cache_dir
from orchestrator.results import LOG_FILE, PREDICTIONS_FILE, RESULT_FILE, SPEC_FILE
from orchestrator.runs import PlannedRun
from shared_schema.files import read_own_file


@dataclass(frozen=True)
class DatasetOnHost:
    """The dataset by content hash; `blob` holds one ObjectRef to {file name: bytes}, boxed in a
    list so Ray does not fetch it unless the node lacks the host's path."""

    name: str
    sha256: str
    host_dir: str
    blob: list


@dataclass(frozen=True)
class NodeJob:
    run: PlannedRun
    dataset: DatasetOnHost
    weights_dir: str | None
    threads: int
    timeout_s: float


@dataclass(frozen=True)
class NodeReply:
    node: str
    returncode: int | None
    reason: str
    timed_out: bool
    oom: bool
    files: dict[str, bytes]  # result.json and predictions.parquet, only when the job exited 0
    log: str


def node_label() -> str:
    """hostname (node IP, Ray node id): recorded in the result's provenance."""
    import ray

    context = ray.get_runtime_context()
    return f"{socket.gethostname()} ({ray.util.get_node_ip_address()}, ray node {context.get_node_id()[:12]})"


def dataset_dir(dataset: DatasetOnHost, say) -> Path:
    """A folder on this node holding the dataset with exactly the planned sha256."""
    host = Path(dataset.host_dir)
    if (host / f"{dataset.name}.parquet").is_file() and sha256_file(host / f"{dataset.name}.parquet") == dataset.sha256:
        return host
    local = cache_dir() / "ray-datasets" / dataset.sha256
    parquet = local / f"{dataset.name}.parquet"
    if not (parquet.is_file() and sha256_file(parquet) == dataset.sha256):
        import ray

        say(
            f"dataset {dataset.name} ({dataset.sha256[:12]}) not on this node's path {host}: fetching it from the object store"
        )
        for file_name, payload in ray.get(dataset.blob[0]).items():
            atomic_write_bytes(local / file_name, payload)
        if sha256_file(parquet) != dataset.sha256:
            raise RuntimeError(
                f"dataset fetched from the object store has sha256 {sha256_file(parquet)[:12]}, "
                f"not the planned {dataset.sha256[:12]}"
            )
    return local


def mismatch(run: PlannedRun) -> str | None:
    """Why this node cannot produce the planned cache entry, or None when it can."""
    env = run.environment
    if env.native_fingerprint() != run.key.env_fingerprint:
        return (
            f"this node builds env {env.name!r} as {env.native_fingerprint()} but the host planned "
            f"{run.key.env_fingerprint} (different Python, platform or pins)"
        )
    if code_sha256(env, run.spec.model) != run.key.code_sha256:
        return "the job code on this node differs from the host's (code hash mismatch)"
    return None


def run_job_on_node(job: NodeJob) -> NodeReply:
    """The Ray task body."""
    node = node_label()
    with tempfile.TemporaryDirectory(prefix="orch-ray-") as scratch:
        staging = Path(scratch) / "run"
        staging.mkdir()
        log_path = staging / LOG_FILE
        with open(log_path, "a") as log:
            log.write(f"[orch] ray task on {node}\n")

        def say(line: str) -> None:
            with open(log_path, "a") as log:
                log.write(f"[orch] {line}\n")

        def reply(returncode: int | None, reason: str, timed_out: bool = False, oom: bool = False) -> NodeReply:
            files = {}
            if returncode == 0:
                files = {  # a link the job planted is not followed (read_own_file refuses it)
                    name: read_own_file(staging / name)
                    for name in (RESULT_FILE, PREDICTIONS_FILE)
                    if (staging / name).is_file() and not (staging / name).is_symlink()
                }
            log = read_own_file(log_path).decode(errors="replace") if not log_path.is_symlink() else ""
            return NodeReply(node, returncode, reason, timed_out, oom, files, log)

        problem = mismatch(job.run)
        if problem:
            return reply(None, f"node {node}: {problem}")
        data = dataset_dir(job.dataset, say)
        (staging / SPEC_FILE).write_text(job.run.spec.model_dump_json(indent=2) + "\n")
        executor = NativeExecutor()  # its lifeline stops the job when this worker dies (killed or cancelled)
        executor.prepare(job.run.environment, say)
        weights = Path(job.weights_dir) if job.weights_dir and Path(job.weights_dir).is_dir() else None
        if job.weights_dir and weights is None:
            say(f"weights folder {job.weights_dir} is not on this node: the job runs without /weights")
        outcome = executor.execute(
            JobRequest(
                run=job.run,
                staging=staging,
                data_dir=data,
                weights_dir=weights,
                threads=job.threads,
                timeout_s=job.timeout_s,
                log_path=log_path,
            )
        )
        return reply(outcome.returncode, outcome.reason, outcome.timed_out, outcome.oom)
