"""`orch doctor`: which executors can run here, and why not."""

import platform
import shutil
import subprocess
import sys

import click

from orchestrator import paths
from orchestrator.console import print_json, print_table
from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.native import VenvManager


def _docker_engine() -> tuple[bool, str]:
    if not shutil.which("docker"):
        return False, "docker CLI not installed"
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}} {{.OSType}}/{{.Architecture}}"],
                              capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return False, "docker info timed out (engine not answering)"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["engine not reachable"])[-1]
        return False, f"engine not reachable: {last}"
    return True, f"engine {done.stdout.strip()}"


def _accelerators() -> list[tuple[str, bool, str]]:
    checks = []
    if shutil.which("nvidia-smi"):
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
        checks.append(("CUDA", done.returncode == 0, done.stdout.strip().splitlines()[0] if done.returncode == 0 else "nvidia-smi failed"))
    else:
        checks.append(("CUDA", False, "no nvidia-smi"))
    mps = sys.platform == "darwin" and platform.machine() == "arm64"
    checks.append(("MPS", mps, "Apple silicon: torch jobs use MPS natively (a container cannot reach it)"
                   if mps else "not Apple silicon"))
    return checks


def collect() -> list[dict]:
    rows = []
    rows.append({"check": "python", "ok": sys.version_info >= (3, 11), "detail": sys.version.split()[0]})
    rows.append({"check": "platform", "ok": True, "detail": f"{platform.system()} {platform.machine()}"})
    if sys.platform == "darwin" and platform.machine() == "arm64":
        rows.append({"check": "JAX under emulation", "ok": False,
                     "detail": "the timesfm image defaults to linux/amd64; x86 JAX under Rosetta/QEMU can fail its "
                               "CPU-feature check - build it with platform linux/arm64 on this machine"})
    ok, detail = _docker_engine()
    rows.append({"check": "docker executor", "ok": ok,
                 "detail": f"{detail}; `auto` uses docker" + (" (torch: native, for MPS)" if sys.platform == "darwin" else "")
                 if ok else f"{detail}; `auto` uses native"})
    if ok:
        from orchestrator.executors.docker import base_image_status

        present, base_detail = base_image_status()
        rows.append({"check": "docker base image", "ok": present, "detail": base_detail})
    venvs = VenvManager()
    for env in ENVIRONMENTS.values():
        if env.requirements.is_file():
            state = "venv ready" if venvs.is_ready(env) else "venv built on first use"
            rows.append({"check": f"native env {env.name}", "ok": True, "detail": f"{state} ({venvs.path(env)})"})
        else:
            rows.append({"check": f"native env {env.name}", "ok": False, "detail": f"no {env.requirements.relative_to(paths.REPO_ROOT)}"})
    for name, available, detail in _accelerators():
        rows.append({"check": name, "ok": available, "detail": detail})
    for label, folder in (("results disk", paths.results_dir()), ("cache disk", paths.cache_dir())):
        probe = folder if folder.exists() else paths.REPO_ROOT
        free = shutil.disk_usage(probe).free / 2**30
        rows.append({"check": label, "ok": free > 5, "detail": f"{free:.1f} GiB free at {probe}"})
    return rows


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def doctor_command(as_json: bool) -> None:
    """What executors and accelerators are usable here, and why not."""
    rows = collect()
    if as_json:
        print_json(rows)
        return
    print_table("orch doctor", ["check", "ok", "detail"], [[r["check"], "yes" if r["ok"] else "no", r["detail"]] for r in rows])
