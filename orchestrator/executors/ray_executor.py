"""Ray executor: each planned job becomes one Ray task with the experiment's resources.

The run key is the native executor's (the node builds the same pinned venv and checks that its
fingerprint and the job code hash match the host's plan), so a result made on the cluster is a
cache hit for a later local run and the other way round. The task returns the job's output files;
the scheduler validates and commits them on the host exactly as for a local job.
"""

from collections.abc import Callable
from pathlib import Path

from orchestrator.environments import Environment
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest
from orchestrator.executors.native import NativeExecutor
from orchestrator.executors.ray_cluster import RayCluster, RaySettings, alive_nodes
from orchestrator.executors.ray_node import DatasetOnHost, NodeJob, NodeReply, run_job_on_node
from orchestrator.fsutil import atomic_write_bytes
from orchestrator.registry import Resources
from orchestrator.results import PREDICTIONS_FILE, RESULT_FILE
from shared_schema import executors as executor_names

POLL_S = 0.2


def task_resources(resources: Resources, cluster_has_gpus: bool) -> dict:
    """Ray task options: a GPU is requested when required, or when optional and the cluster has one
    (Ray hides GPUs from tasks that did not ask for one)."""
    wants_gpu = resources.gpu == "required" or (resources.gpu == "optional" and cluster_has_gpus)
    return {"num_cpus": resources.cpus, "num_gpus": 1 if wants_gpu else 0, "memory": int(resources.memory_gb * 2**30)}


def unschedulable(options: dict, nodes: list[dict]) -> str | None:
    """Why no alive node could ever run a task with these options (Ray would queue it forever)."""
    need = {"CPU": options["num_cpus"], "GPU": options["num_gpus"], "memory": options["memory"]}
    if any(all(node["Resources"].get(key, 0) >= amount for key, amount in need.items()) for node in nodes):
        return None
    return (
        f"no node of the Ray cluster offers {need['CPU']:g} CPUs, {need['GPU']:g} GPUs and "
        f"{need['memory'] / 2**30:g} GiB memory at once"
    )


class RayExecutor(Executor):
    name = executor_names.RAY
    schedules_resources = True

    def __init__(self, settings: RaySettings):
        self.settings = settings
        self.cluster = RayCluster(settings)
        self.say: Callable[[str], None] = lambda line: None
        self._datasets: dict[str, DatasetOnHost] = {}
        self._task = None  # the Ray remote function, made once per connection

    def fingerprint(self, env: Environment) -> str:
        return NativeExecutor().fingerprint(env)

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        """Connect (or start the local cluster); the node builds the env's venv on first use."""
        self.say = say
        if not env.requirements.is_file():
            from orchestrator.errors import UserError

            raise UserError(f"env {env.name!r} has no requirements file at {env.requirements}")
        self.cluster.connect(say)

    def close(self) -> None:
        self.cluster.close()
        self._datasets.clear()
        self._task = None

    def _dataset(self, data_dir: Path, name: str, sha256: str) -> DatasetOnHost:
        """Put the dataset in the object store once per run; nodes fetch it only if they lack the path."""
        if sha256 not in self._datasets:
            files = {
                f"{name}{suffix}": (data_dir / f"{name}{suffix}").read_bytes()
                for suffix in (".parquet", ".manifest.json")
            }
            self._datasets[sha256] = DatasetOnHost(
                name, sha256, str(Path(data_dir).resolve()), [self.cluster.ray.put(files)]
            )
        return self._datasets[sha256]

    def execute(self, request: JobRequest) -> ExecOutcome:
        ray = self.cluster.connect(self.say)
        run = request.run
        nodes = alive_nodes(ray)
        options = task_resources(run.experiment.resources, any(n["Resources"].get("GPU", 0) for n in nodes))
        reason = unschedulable(options, nodes)
        if reason:
            return ExecOutcome(None, reason)
        job = NodeJob(
            run=run,
            dataset=self._dataset(request.data_dir, run.spec.dataset.name, run.spec.dataset.sha256),
            weights_dir=str(request.weights_dir.resolve()) if request.weights_dir else None,
            threads=max(1, int(options["num_cpus"])),
            timeout_s=request.timeout_s,
        )
        if self._task is None:
            self._task = ray.remote(run_job_on_node)
        ref = self._task.options(**options, max_retries=self.settings.retries, retry_exceptions=False).remote(job)
        while not ray.wait([ref], timeout=POLL_S)[0]:
            if request.cancel.is_set():
                ray.cancel(ref, force=True)  # kills the worker; the job dies with it (parent-death guard)
                return ExecOutcome(None, "interrupted", interrupted=True)
        try:
            reply: NodeReply = ray.get(ref)
        except ray.exceptions.RayError as exc:
            return self._task_failure(exc, request)
        return self._unpack(reply, request)

    def _task_failure(self, exc: Exception, request: JobRequest) -> ExecOutcome:
        import ray

        retried = (
            f" (after {self.settings.retries} retr{'y' if self.settings.retries == 1 else 'ies'})"
            if self.settings.retries
            else ""
        )
        if isinstance(exc, ray.exceptions.OutOfMemoryError):
            reason, oom = f"Ray's memory monitor killed the job's worker{retried}", True
        elif isinstance(
            exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.LocalRayletDiedError)
        ):
            reason, oom = f"the Ray worker running the job died mid-job{retried} ({type(exc).__name__})", False
        elif isinstance(exc, ray.exceptions.RayTaskError):
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            reason, oom = (
                f"ray task failed on the node: {type(cause).__name__}: {' '.join(str(cause).split())[:300]}",
                False,
            )
        else:
            reason, oom = f"ray: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", False
        with open(request.log_path, "a") as log:
            log.write(f"[orch] {reason}\n")
        return ExecOutcome(None, reason, oom=oom)

    @staticmethod
    def _unpack(reply: NodeReply, request: JobRequest) -> ExecOutcome:
        """Write the node's files into the host's staging folder; the scheduler validates them."""
        with open(request.log_path, "a") as log:
            log.write(reply.log)
        for line in reply.log.splitlines():
            request.on_line(line)
        for file_name in (RESULT_FILE, PREDICTIONS_FILE):
            if file_name in reply.files:
                atomic_write_bytes(request.staging / file_name, reply.files[file_name])
        return ExecOutcome(reply.returncode, reply.reason, timed_out=reply.timed_out, oom=reply.oom, node=reply.node)
