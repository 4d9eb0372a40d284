"""Docker executor: one image per environment, one container per job, driven through the docker CLI.

Images are built from the one images/Dockerfile (ENV_NAME picks the env's pins) and tagged
`fdinvest-<env>:<inputs12>`, where inputs12 hashes everything that goes into the image (Dockerfile,
requirements, shared_schema/ and jobs/ code, base image, build args, platform), so an image is
rebuilt exactly when one of those changes. Each build is labelled with this checkout's id, and
pruning touches only images this checkout built (the engine may be shared by several checkouts).

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

Build inputs that must not change the image's identity travel in the build context's
`.orch-build/` folder (see images/Dockerfile): the proxy CA bundle pip trusts during the build
(ORCH_BUILD_CA, else PIP_CERT / REQUESTS_CA_BUNDLE / SSL_CERT_FILE) and local wheels
(ORCH_BUILD_WHEELS, else PIP_FIND_LINKS when it is a folder), limited to the env's pinned packages.
"""

import fcntl
import functools
import hashlib
import io
import os
import platform as host_platform_module
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.cpu_threads import thread_env
from orchestrator.environments import IMAGE_PYTHON, Environment, package_key
from orchestrator.errors import UserError
from orchestrator.executors import platforms
from orchestrator.executors.base import ExecOutcome, Executor, JobRequest, run_streaming
from orchestrator.paths import CODE_ROOT, IMAGES_DIR, cache_dir
from shared_schema import executors as executor_names
from shared_schema.files import chown_tree
from shared_schema.identity import platform_name
from shared_schema.job_command import job_argv

IMAGE_PREFIX = "fdinvest-"
CONTAINER_PREFIX = "orch-"
CONTAINER_LABEL = "fdinvest.orch"
CHECKOUT_LABEL = "fdinvest.checkout"
DOCKERFILE = IMAGES_DIR / "Dockerfile"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
JOB_UID_GID = (1000, 1000)  # the images' `orch` user: who a job runs as when orch itself is root
PIDS_LIMIT = 4096  # a fork bomb stops here; JAX/XLA and torch thread pools stay far below it
CODE_DIRS = ("shared_schema", "jobs")


# -- the engine ----------------------------------------------------------------------------------
def engine_status(timeout: float = 15.0) -> tuple[bool, str]:
    """(answers, one-line detail) for the Docker engine behind the `docker` CLI."""
    if not shutil.which("docker"):
        return False, "docker CLI not installed"
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}} {{.OSType}}/{{.Architecture}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, "docker info timed out (engine not answering)"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["engine not reachable"])[-1]
        return False, f"engine not reachable: {last}"
    return True, f"engine {done.stdout.strip()}"


def docker(*args: str, timeout: float | None = 120, check: bool = False) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise UserError(f"docker {args[0]} failed: {last}")
    return done


@functools.cache
def engine_platform() -> str:
    """The engine's own platform in Docker's spelling (linux/amd64): where an image without an
    explicit platform runs."""
    done = docker("info", "--format", "{{.OSType}} {{.Architecture}}", timeout=30)
    system, _, machine = done.stdout.strip().partition(" ")
    return platform_name(system or "linux", machine or host_platform_module.machine())


def host_has_nvidia_gpu() -> bool:
    if not shutil.which("nvidia-smi"):
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


# -- images --------------------------------------------------------------------------------------
def env_platform(env: Environment) -> str | None:
    """The env's image platform on this engine (None: the engine's own): ORCH_<ENV>_PLATFORM, else
    the env's declaration, chosen per engine where it is a PlatformChoice (executors/platforms.py)."""
    return platforms.decide(env).platform


def image_platform(env: Environment) -> str:
    """Where the env's image runs: its explicit platform, else the engine's."""
    return env_platform(env) or engine_platform()


def base_image(platform: str | None = None) -> str:
    """The image every env is built FROM: ORCH_BASE_IMAGE_<ARCH> for an image of that platform
    (e.g. ORCH_BASE_IMAGE_ARM64, where the local base of the engine's own platform cannot serve
    another), else ORCH_BASE_IMAGE, else python:3.11-slim (multi-platform on Docker Hub)."""
    arch = (platform or "").rpartition("/")[2].upper()
    return (
        (arch and os.environ.get(f"ORCH_BASE_IMAGE_{arch}")) or os.environ.get("ORCH_BASE_IMAGE") or DEFAULT_BASE_IMAGE
    )


def build_args(env: Environment) -> dict[str, str]:
    """Build args that change what is built, hence part of the tag (CA and wheels are not)."""
    args = {"ENV_NAME": env.name, "PYTHON_VERSION": IMAGE_PYTHON}
    if base_image(env_platform(env)) != DEFAULT_BASE_IMAGE:
        args["BASE_IMAGE"] = base_image(env_platform(env))
    if os.environ.get("ORCH_TORCH_INDEX_URL") and "torch" in env.pins():
        args["TORCH_INDEX_URL"] = os.environ["ORCH_TORCH_INDEX_URL"]
    return args


def dockerfile(env: Environment) -> Path:
    """The one Dockerfile every env shares (the env is a build arg)."""
    return DOCKERFILE


@functools.cache
def checkout_id() -> str:
    """Names this checkout on a shared engine: images it built carry it as a label."""
    return hashlib.sha256(f"{socket.gethostname()}:{CODE_ROOT.resolve()}".encode()).hexdigest()[:12]


def input_files(env: Environment) -> list[tuple[str, Path]]:
    """(path in the build context, file) for everything the image is made from, sorted."""
    files = [("images/Dockerfile", DOCKERFILE), (f"images/{env.name}/requirements.txt", env.requirements)]
    for folder in CODE_DIRS:
        for path in sorted((CODE_ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append((path.relative_to(CODE_ROOT).as_posix(), path))
    return files


def inputs_hash(env: Environment) -> str:
    digest = hashlib.sha256()
    for arcname, path in input_files(env):
        digest.update(arcname.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(repr(sorted(build_args(env).items())).encode())
    digest.update(f"platform={env_platform(env)}".encode())
    return digest.hexdigest()


def image_tag(env: Environment) -> str:
    return f"{IMAGE_PREFIX}{env.name}:{inputs_hash(env)[:12]}"


def latest_tag(env: Environment) -> str:
    """The stable name compose.yaml uses; `orch build` points it at the newest build."""
    return f"{IMAGE_PREFIX}{env.name}:latest"


def image_id(tag: str) -> str | None:
    done = docker("image", "inspect", "--format", "{{.Id}}", tag, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


def docker_build_argv(env: Environment, tags: list[str]) -> list[str]:
    """The `docker build` command line (context read from stdin as a tar stream)."""
    command = ["docker", "build", "--file", "images/Dockerfile", "--label", f"{CHECKOUT_LABEL}={checkout_id()}"]
    for tag in tags:
        command += ["--tag", tag]
    platform = env_platform(env)
    if platform:
        command += ["--platform", platform]
    for key, value in build_args(env).items():
        command += ["--build-arg", f"{key}={value}"]
    return command + ["-"]


def _ca_bundle() -> Path | None:
    for name in ("ORCH_BUILD_CA", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(name)
        if value and Path(value).is_file():
            return Path(value)
    return None


def _wheel_dirs() -> list[Path]:
    raw = os.environ.get("ORCH_BUILD_WHEELS") or os.environ.get("PIP_FIND_LINKS") or ""
    return [Path(p) for p in raw.split() if not p.startswith(("http:", "https:")) and Path(p).is_dir()]


def local_wheels(env: Environment) -> list[Path]:
    """Local wheels for the env's pinned packages that fit the image's platform (cp311 / any)."""
    wanted = set(env.pins())
    arch = (env_platform(env) or f"linux/{host_platform_module.machine()}").split("/")[-1]
    arch_tags = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(arch, arch)
    chosen = []
    for folder in _wheel_dirs():
        for wheel in sorted(folder.glob("*.whl")):
            parts = wheel.stem.split("-")
            if len(parts) < 5 or package_key(parts[0]) not in wanted:
                continue
            python_tag, plat = parts[-3], parts[-1]
            if (plat == "any" or arch_tags in plat) and ("cp311" in python_tag or python_tag.startswith("py3")):
                chosen.append(wheel)
    return chosen


def write_context(env: Environment, out: Path) -> None:
    """The build context as a tar file: exactly the input files plus the optional .orch-build/."""
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for arcname, path in input_files(env):
            tar.add(path, arcname=arcname, recursive=False)
        ca = _ca_bundle()
        if ca is not None:
            tar.add(ca, arcname=".orch-build/ca.pem")
        for wheel in local_wheels(env):
            tar.add(wheel, arcname=f".orch-build/wheels/{wheel.name}")
        if ca is None and not local_wheels(env):
            info = tarfile.TarInfo(".orch-build/.none")
            tar.addfile(info, io.BytesIO(b""))


@dataclass(frozen=True)
class BuiltImage:
    env: str
    tag: str
    image_id: str
    size_bytes: int
    seconds: float  # 0.0 when it already existed
    built: bool


class ImageBuilder:
    def __init__(self, lock_dir: Path | None = None):
        self.lock_dir = Path(lock_dir) if lock_dir else cache_dir() / "docker"

    def ensure(
        self,
        env: Environment,
        say: Callable[[str], None],
        *,
        force: bool = False,
        no_cache: bool = False,
        on_line: Callable[[str], None] | None = None,
    ) -> BuiltImage:
        """The image for the env's current inputs; built (once, under a lock) when missing."""
        if not dockerfile(env).is_file():
            raise UserError(f"env {env.name!r} has no Dockerfile at {dockerfile(env)}")
        if not env.requirements.is_file():
            raise UserError(f"env {env.name!r} has no requirements file at {env.requirements}")
        tag = image_tag(env)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_dir / f".{env.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            existing = None if force else image_id(tag)
            if existing:
                docker("tag", tag, latest_tag(env), timeout=60)
                return BuiltImage(env.name, tag, existing, self.size(tag), 0.0, False)
            seconds = self._build(env, tag, say, on_line=on_line, no_cache=no_cache)
        built = image_id(tag)
        if not built:
            raise UserError(f"docker build for env {env.name!r} reported success but {tag} does not exist")
        self.prune(env, keep=tag)
        return BuiltImage(env.name, tag, built, self.size(tag), seconds, True)

    @staticmethod
    def prune(env: Environment, keep: str) -> None:
        """Untag older content-hash builds of this env that this checkout built (an image a container
        still uses stays); other checkouts' images on a shared engine are never touched."""
        done = docker(
            "image",
            "ls",
            f"{IMAGE_PREFIX}{env.name}",
            "--filter",
            f"label={CHECKOUT_LABEL}={checkout_id()}",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            timeout=60,
        )
        old = [t for t in done.stdout.split() if t not in (keep, latest_tag(env)) and not t.endswith(":<none>")]
        if old:
            docker("image", "rm", *old, timeout=300)

    @staticmethod
    def size(tag: str) -> int:
        done = docker("image", "inspect", "--format", "{{.Size}}", tag, timeout=60)
        return int(done.stdout.strip() or 0) if done.returncode == 0 else 0

    def _build(
        self,
        env: Environment,
        tag: str,
        say: Callable[[str], None],
        *,
        on_line: Callable[[str], None] | None,
        no_cache: bool,
    ) -> float:
        ensure_base_image(base_image(env_platform(env)), env_platform(env))
        say(
            f"building image {tag} for env {env.name!r}"
            + (f" (platform {env_platform(env)})" if env_platform(env) else "")
            + "; first use of these inputs"
        )
        started = time.perf_counter()
        tail: list[str] = []
        with tempfile.TemporaryDirectory(prefix="orch-build-") as tmp:
            context = Path(tmp) / "context.tar"
            write_context(env, context)
            with open(context, "rb") as stdin:
                command = docker_build_argv(env, [tag, latest_tag(env)])
                if no_cache:
                    command.insert(2, "--no-cache")
                process = subprocess.Popen(
                    command,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    bufsize=1,
                    env={**os.environ, "DOCKER_BUILDKIT": "0"},
                )
                for line in process.stdout:
                    stripped = line.rstrip()
                    tail.append(stripped)
                    del tail[:-30]
                    if on_line:
                        on_line(stripped)
                code = process.wait()
        if code != 0:
            reason = next((t for t in reversed(tail) if t and not t.startswith(" ---")), f"exit {code}")
            raise UserError(f"docker build for env {env.name!r} failed: {reason}")
        seconds = time.perf_counter() - started
        say(f"image {tag} built in {seconds:.0f}s")
        return seconds


def ensure_base_image(base: str, platform: str | None) -> None:
    """The base image on the engine, for `platform` when one is given (a tag holds one platform's
    image on a classic engine: python:3.11-slim pulled for amd64 is pulled again for arm64), pulled
    if needed; when it cannot be had (no registry), say what to do in one line instead of docker's
    raw resolver error."""
    here = docker("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", base, timeout=60)
    if here.returncode == 0 and (platform is None or here.stdout.strip() == platform):
        return
    pull = ["pull", base] + (["--platform", platform] if platform else [])
    done = docker(*pull, timeout=900)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        variable = f"ORCH_BASE_IMAGE_{platform.rpartition('/')[2].upper()}" if platform else "ORCH_BASE_IMAGE"
        raise UserError(
            f"base image {base} is not on this Docker engine and cannot be pulled ({last[:160]}): "
            f"set {variable} to a local Python {IMAGE_PYTHON} image and run `orch build`, "
            "or use --executor native"
        )


# -- jobs ----------------------------------------------------------------------------------------
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
