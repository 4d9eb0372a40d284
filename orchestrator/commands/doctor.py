"""`orch doctor`: which executors can run here, and why not."""

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import click

from orchestrator import paths
from orchestrator.console import print_json, print_table
from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors import native_only_envs
from orchestrator.executors.docker import base_image, engine_status
from orchestrator.executors.native import VenvManager
from orchestrator.executors.ray_cluster import doctor_rows


def _base_image_available(image: str) -> tuple[bool, str]:
    """Images build FROM the base image: usable only if it is here or the registry hands it out."""
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
        return True, f"base image {image} present"
    try:
        done = subprocess.run(["docker", "manifest", "inspect", image], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        done = None
    if done is not None and done.returncode == 0:
        return True, f"base image {image} pullable"
    error = "" if done is None else (done.stderr.strip().splitlines() or ["not pullable"])[-1]
    unreachable = done is None or any(word in error for word in ("dial tcp", "lookup", "connect", "timeout"))
    why = "registry unreachable" if unreachable else error[:120]
    return False, (
        f"base image {image} is not here and cannot be pulled ({why}); set ORCH_BASE_IMAGE to a local "
        "image, or use --executor native"
    )


def _free_space(folder: Path) -> tuple[float, str]:
    """Free GiB where `folder` will live: itself, or its nearest existing parent (said so)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 2**30
    where = f"{probe}" if probe == folder else f"{probe} (nearest existing parent of {folder}, not created yet)"
    return free, f"{free:.1f} GiB free at {where}"


def _accelerators() -> list[tuple[str, bool, str]]:
    checks = []
    if shutil.which("nvidia-smi"):
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        checks.append(
            (
                "CUDA",
                done.returncode == 0,
                done.stdout.strip().splitlines()[0] if done.returncode == 0 else "nvidia-smi failed",
            )
        )
    else:
        checks.append(("CUDA", False, "no nvidia-smi"))
    mps = sys.platform == "darwin" and platform.machine() == "arm64"
    checks.append(
        (
            "MPS",
            mps,
            "Apple silicon: torch jobs use MPS natively (a container cannot reach it)" if mps else "not Apple silicon",
        )
    )
    return checks


def folder_rows() -> list[dict]:
    """Where this `orch` reads and writes, and why: the project found from the current folder, the
    ORCH_*_DIR overrides, and the installed code the jobs come from."""
    project = paths.find_project()
    overridden = {
        "data": "ORCH_DATA_DIR",
        "results": "ORCH_RESULTS_DIR",
        "cache": "ORCH_CACHE_DIR",
        "weights": "ORCH_WEIGHTS_DIR",
    }
    folders = {
        "data": paths.data_dir(),
        "results": paths.results_dir(),
        "cache": paths.cache_dir(),
        "weights": paths.weights_dir(),
    }
    rows = [{"check": "project folder", "ok": True, "detail": f"{project.root} ({project.how})"}]
    for name, folder in folders.items():
        source = f"from {overridden[name]}" if os.environ.get(overridden[name]) else "default"
        rows.append({"check": f"{name} folder", "ok": True, "detail": f"{folder} ({source})"})
    kind = "checkout" if paths.IS_CHECKOUT else "installed package"
    rows.append(
        {"check": "code", "ok": True, "detail": f"{paths.CODE_ROOT} ({kind}; environments from {paths.IMAGES_DIR})"}
    )
    return rows


def collect(ray_address: str | None = None) -> list[dict]:
    rows = folder_rows()
    rows.append({"check": "python", "ok": sys.version_info >= (3, 11), "detail": sys.version.split()[0]})
    rows.append({"check": "platform", "ok": True, "detail": f"{platform.system()} {platform.machine()}"})
    if sys.platform == "darwin" and platform.machine() == "arm64":
        rows.append(
            {
                "check": "JAX under emulation",
                "ok": False,
                "detail": "the timesfm image defaults to linux/amd64; x86 JAX under Rosetta/QEMU can fail its "
                "CPU-feature check - build it with platform linux/arm64 on this machine",
            }
        )
    engine_ok, detail = engine_status()
    ok = engine_ok
    if engine_ok:
        ok, base = _base_image_available(base_image())
        detail = f"{detail}, {base}"
    native = ", ".join(sorted(native_only_envs()))
    rows.append(
        {
            "check": "docker executor",
            "ok": ok,
            "detail": f"{detail}; `auto` uses docker" + (f" ({native}: native, for MPS)" if native else "")
            if engine_ok
            else f"{detail}; `auto` uses native",
        }
    )
    venvs = VenvManager()
    for env in ENVIRONMENTS.values():
        if env.requirements.is_file():
            state = "venv ready" if venvs.is_ready(env) else "venv built on first use"
            rows.append({"check": f"native env {env.name}", "ok": True, "detail": f"{state} ({venvs.path(env)})"})
        else:
            rows.append({"check": f"native env {env.name}", "ok": False, "detail": f"no {env.requirements}"})
    rows += doctor_rows(ray_address)
    for name, available, detail in _accelerators():
        rows.append({"check": name, "ok": available, "detail": detail})
    for label, folder in (("results disk", paths.results_dir()), ("cache disk", paths.cache_dir())):
        free, detail = _free_space(folder)
        rows.append({"check": label, "ok": free > 5, "detail": detail})
    return rows


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option(
    "--ray-address",
    envvar="ORCH_RAY_ADDRESS",
    metavar="HOST:PORT",
    help="also show this Ray cluster's nodes and resources [env: ORCH_RAY_ADDRESS]",
)
def doctor_command(as_json: bool, ray_address: str | None) -> None:
    """What executors and accelerators are usable here, and why not."""
    rows = collect(ray_address)
    if as_json:
        print_json(rows)
        return
    print_table(
        "orch doctor", ["check", "ok", "detail"], [[r["check"], "yes" if r["ok"] else "no", r["detail"]] for r in rows]
    )
