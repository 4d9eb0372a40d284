"""The env's image: its platform on this engine, the tag that hashes everything it is made from,
its build context, and building it (once, under a lock).

Images are built from the one images/Dockerfile (ENV_NAME picks the env's pins) and tagged
`fdinvest-<env>:<inputs12>`, where inputs12 hashes everything that goes into the image (Dockerfile,
requirements, shared_schema/ and jobs/ code, base image, build args, platform), so an image is
rebuilt exactly when one of those changes. Each build is labelled with this checkout's id, and
pruning touches only images this checkout built (the engine may be shared by several checkouts).

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
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.environments import IMAGE_PYTHON, Environment, package_key
from orchestrator.errors import UserError
from orchestrator.executors import platforms
from orchestrator.executors.engine import DEFAULT_BASE_IMAGE, base_image, docker, engine_platform, ensure_base_image
from orchestrator.paths import CODE_ROOT, IMAGES_DIR, cache_dir

IMAGE_PREFIX = "fdinvest-"
CHECKOUT_LABEL = "fdinvest.checkout"
DOCKERFILE = IMAGES_DIR / "Dockerfile"
CODE_DIRS = ("shared_schema", "jobs")


def env_platform(env: Environment) -> str | None:
    """The env's image platform on this engine (None: the engine's own): ORCH_<ENV>_PLATFORM, else
    the env's declaration, chosen per engine where it is a PlatformChoice (executors/platforms.py)."""
    return platforms.decide(env).platform


def image_platform(env: Environment) -> str:
    """Where the env's image runs: its explicit platform, else the engine's."""
    return env_platform(env) or engine_platform()


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
