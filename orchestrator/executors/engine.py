"""The Docker engine behind the `docker` CLI: whether it answers, its own platform, whether the host
has an NVIDIA GPU for it, and the base image every env's image is built FROM (which one, and having
it on the engine for a given platform)."""

import functools
import os
import platform as host_platform_module
import shutil
import subprocess

from orchestrator.environments import IMAGE_PYTHON
from orchestrator.errors import UserError
from shared_schema.identity import platform_name

DEFAULT_BASE_IMAGE = "python:3.11-slim"


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


def base_image(platform: str | None = None) -> str:
    """The image every env is built FROM: ORCH_BASE_IMAGE_<ARCH> for an image of that platform
    (e.g. ORCH_BASE_IMAGE_ARM64, where the local base of the engine's own platform cannot serve
    another), else ORCH_BASE_IMAGE, else python:3.11-slim (multi-platform on Docker Hub)."""
    arch = (platform or "").rpartition("/")[2].upper()
    return (
        (arch and os.environ.get(f"ORCH_BASE_IMAGE_{arch}")) or os.environ.get("ORCH_BASE_IMAGE") or DEFAULT_BASE_IMAGE
    )


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
