"""Docker executor: one container per job, from the env's image (executors/images.py), driven
through the docker CLI (executors/engine.py).

The run key's environment part is the env's identity (lock hash + the images' Python + the image
platform, see shared_schema/identity.py), known without building anything: `orch plan` never
builds, and a native, Docker or compose run of the same pins shares its cache. The image ID is
recorded as provenance.

Each job runs in a named container, sandboxed: never as root (the image's `orch` user, uid 1000,
when orch runs as root, with the staging folder handed to that uid and back afterwards; else the
host user's own uid:gid), read-only root filesystem with a /tmp tmpfs, all capabilities dropped,
no-new-privileges, a pids limit, no network, CPU/memory limits from the registry; dataset
read-only at /data, its staging folder at /results, weights read-only at /weights. The container
is removed on success, failure, timeout and Ctrl-C.
"""

import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from orchestrator.cpu_threads import thread_env
from orchestrator.environments import IMAGE_PYTHON, Environment
from orchestrator.executors import platforms
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest, run_streaming
from orchestrator.executors.engine import docker, host_has_nvidia_gpu
from orchestrator.executors.images import BuiltImage, ImageBuilder, dockerfile, env_platform, image_platform
from orchestrator.paths import CODE_ROOT
from shared_schema import executors as executor_names
from shared_schema.files import chown_tree
from shared_schema.job_command import job_argv

CONTAINER_PREFIX = "orch-"
CONTAINER_LABEL = "fdinvest.orch"
JOB_UID_GID = (1000, 1000)  # the images' `orch` user: who a job runs as when orch itself is root
PIDS_LIMIT = 4096  # a fork bomb stops here; JAX/XLA and torch thread pools stay far below it


def container_name(request: JobRequest) -> str:
    return f"{CONTAINER_PREFIX}{request.run.spec.slug}-s{request.run.spec.seed}-{uuid.uuid4().hex[:8]}"


def docker_run_argv(
    request: JobRequest, *, image: str, name: str, env: Environment, gpus: bool, job_command: list[str] | None
) -> list[str]:
    """`docker run ...` for one job: its sandbox, limits, mounts, GPU and thread settings."""
    resources = request.run.experiment.resources
    cpus = min(float(resources.cpus), float(os.cpu_count() or 1))
    threads = max(1, min(request.threads, int(cpus + 0.999)))
    memory = f"{int(resources.memory_gb * 1024)}m"
    command = [
        "docker",
        "run",
        "--name",
        name,
        "--pull",
        "never",
        "--label",
        f"{CONTAINER_LABEL}=1",
        "--label",
        f"{CONTAINER_LABEL}.pid={os.getpid()}",
        *sandbox_options(memory),
        "--cpus",
        f"{cpus:g}",
        "--memory",
        memory,
        "--memory-swap",
        memory,
        "--volume",
        f"{Path(request.data_dir).resolve()}:/data:ro",
        "--volume",
        f"{Path(request.staging).resolve()}:/results",
    ]
    if request.weights_dir is not None:
        command += ["--volume", f"{Path(request.weights_dir).resolve()}:/weights:ro"]
    platform = env_platform(env)
    if platform:
        command += ["--platform", platform]
    pinned = request.device_env.get("CUDA_VISIBLE_DEVICES")
    if gpus:  # the slot's device appears as device 0 inside the container
        command += ["--gpus", f"device={pinned}" if pinned else "all"]
    in_container = {k: v for k, v in request.device_env.items() if k != "CUDA_VISIBLE_DEVICES"}
    for key, value in {**thread_env(threads), **in_container, "PYTHONHASHSEED": "0"}.items():
        command += ["--env", f"{key}={value}"]
    if job_command is not None:
        return command + [image, *job_command]
    weights = None if request.weights_dir is None else "/weights"
    return command + [
        image,
        *job_argv("python", spec="/results/spec.json", data="/data", out="/results", weights=weights),
    ]


def container_user() -> tuple[int, int]:
    """Who a job runs as: the host user, unless that is root; then the images' `orch` user."""
    return (os.getuid(), os.getgid()) if os.getuid() != 0 else JOB_UID_GID


def sandbox_options(tmpfs_size: str) -> list[str]:
    """`docker run` options every job and image suite gets: a non-root user, a read-only root
    filesystem with a /tmp tmpfs (HOME and caches live there), no capabilities, no privilege
    escalation, a pids limit, no network."""
    uid, gid = container_user()
    return [
        "--user",
        f"{uid}:{gid}",
        "--network",
        "none",
        "--read-only",
        "--tmpfs",
        f"/tmp:rw,exec,nosuid,nodev,size={tmpfs_size}",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--pids-limit",
        str(PIDS_LIMIT),
    ]


def remove_container(name: str) -> None:
    try:
        docker("rm", "--force", "--volumes", name, timeout=60)
    except subprocess.TimeoutExpired:
        pass


class DockerExecutor(Executor):
    name = executor_names.DOCKER

    def __init__(self, builder: ImageBuilder | None = None, job_command: list[str] | None = None):
        """`job_command` replaces `python -m jobs run ...` inside the container (tests, benchmarks)."""
        self.builder = builder or ImageBuilder()
        self.job_command = job_command
        self.images: dict[str, BuiltImage] = {}
        self.say: Callable[[str], None] = lambda line: None

    def _image(self, env: Environment, say: Callable[[str], None] | None = None) -> BuiltImage:
        if env.name not in self.images:
            self.images[env.name] = self.builder.ensure(env, say or self.say)
        return self.images[env.name]

    def fingerprint(self, env: Environment) -> str:
        """The env's identity in its image (pins, the images' Python, the image platform): known
        without building, so planning never builds."""
        if not env.requirements.is_file() or not dockerfile(env).is_file():
            return "image-unavailable"
        return env.identity(IMAGE_PYTHON, image_platform(env)).fingerprint

    def describe(self, env: Environment) -> str | None:
        """The env's image platform and why, where it is not simply the engine's own."""
        decision = platforms.decide(env)
        return None if decision.platform is None else f"{env.name} image {decision.platform} ({decision.reason})"

    def prepare(self, env: Environment, say: Callable[[str], None]) -> None:
        self.say = say
        for name in sweep_orphans():
            say(f"removed container {name} left behind by an orch process that no longer exists")
        self._image(env, say)

    def execute(self, request: JobRequest) -> ExecOutcome:
        env = request.run.environment
        image = self._image(env)
        name = container_name(request)
        gpus = request.run.experiment.resources.gpu != "none" and host_has_nvidia_gpu()
        command = docker_run_argv(
            request, image=image.image_id, name=name, env=env, gpus=gpus, job_command=self.job_command
        )
        with open(request.log_path, "a") as log:
            log.write(f"[orch] docker container {name} from {image.tag} ({image.image_id[:19]})\n")
        lend = container_user() != (os.getuid(), os.getgid())
        if lend:
            chown_tree(request.staging, *container_user())
        try:
            code, reason, timed_out, interrupted = run_streaming(
                command, request, dict(os.environ), cwd=CODE_ROOT, on_kill=lambda: docker("kill", name, timeout=30)
            )
            state = self._state(name)
        finally:
            remove_container(name)
            if lend:
                chown_tree(request.staging, os.getuid(), os.getgid())
        exit_code = state.get("exit_code")
        if exit_code is None:
            exit_code = code
        # Only the engine's OOMKilled flag means out of memory: 137 is any SIGKILL (e.g. `docker kill`).
        oom = not (timed_out or interrupted) and state.get("oom", False)
        if timed_out:
            reason = f"timed out after {request.timeout_s:.0f}s (container stopped)"
        elif interrupted:
            reason = "interrupted"
        elif oom:
            limit = request.run.experiment.resources.memory_gb
            reason = f"out of memory: killed at the container's {limit:g} GiB limit (registry Resources.memory_gb)"
        elif exit_code == 137 and not reason.startswith("job failed"):
            reason = "killed by signal 9 (SIGKILL), not by the container's memory limit (OOMKilled is false)"
        elif exit_code != 0 and not reason:
            reason = f"container exited with code {exit_code}"
        elif exit_code != 0 and not reason.startswith("job failed"):
            reason = f"container exited with code {exit_code}: {reason}"
        return ExecOutcome(
            exit_code, reason, timed_out=timed_out, oom=oom, interrupted=interrupted, image_id=image.image_id
        )

    @staticmethod
    def _state(name: str) -> dict:
        done = docker("container", "inspect", "--format", "{{.State.OOMKilled}} {{.State.ExitCode}}", name, timeout=60)
        if done.returncode != 0:
            return {}
        oom, _, exit_code = done.stdout.strip().partition(" ")
        return {"oom": oom == "true", "exit_code": int(exit_code) if exit_code.lstrip("-").isdigit() else None}


def sweep_orphans() -> list[str]:
    """Remove job containers whose orch process died without cleaning up (SIGKILL, power loss)."""
    done = docker(
        "ps",
        "--all",
        "--filter",
        f"label={CONTAINER_LABEL}=1",
        "--format",
        f'{{{{.Names}}}} {{{{.Label "{CONTAINER_LABEL}.pid"}}}}',
        timeout=60,
    )
    removed = []
    for line in done.stdout.splitlines():
        name, _, pid = line.partition(" ")
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            remove_container(name)
            removed.append(name)
        except PermissionError:
            pass
    return removed


def leftover_containers(pid: int | None = None) -> list[str]:
    """Names of containers this tool started (optionally: by one orch process) that still exist."""
    label = f"{CONTAINER_LABEL}.pid={pid}" if pid is not None else f"{CONTAINER_LABEL}=1"
    done = docker("ps", "--all", "--filter", f"label={label}", "--format", "{{.Names}}", timeout=60)
    return [line for line in done.stdout.split() if line]
