"""`orch doctor`: which executors can run here, and why not; `orch doctor --mac`: the Apple-silicon
self-check a user runs once and attaches to an issue."""

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from orchestrator import paths
from orchestrator.console import print_json, print_table, say
from orchestrator.environments import ENVIRONMENTS
from orchestrator.errors import UserError
from orchestrator.executors import native_only_envs, platforms
from orchestrator.executors.engine import base_image, engine_status
from orchestrator.executors.native import VenvManager
from orchestrator.executors.ray_cluster import doctor_rows
from shared_schema.files import atomic_write_text

MIN_MACOS = (14, 0)  # torch 2.13's macOS wheel is macosx_14_0_arm64: the native torch venv needs it


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


def macos_row() -> dict:
    version = platform.mac_ver()[0]
    if not version:
        return {"check": "macOS >= 14", "ok": False, "detail": f"not macOS ({platform.system()})"}
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    ok = parts >= MIN_MACOS
    need = "" if ok else "; the torch env's wheel (macosx_14_0_arm64) needs macOS 14+"
    return {"check": "macOS >= 14", "ok": ok, "detail": f"macOS {version} on {platform.machine()}{need}"}


def timesfm_platform_row() -> dict:
    """The timesfm image's platform on this engine (probed once, cached; compose's .env follows)."""
    env = ENVIRONMENTS["timesfm"]
    try:
        decision = platforms.decide(env)
    except UserError as exc:
        return {"check": "timesfm image platform", "ok": False, "detail": str(exc)}
    return {"check": "timesfm image platform", "ok": True, "detail": f"{decision.platform}: {decision.reason}"}


def torch_python(python: str | None) -> Path:
    """The torch env's interpreter: the one given, else orch's venv for the env (built on first use)."""
    if python:
        return Path(python)
    return VenvManager().ensure(ENVIRONMENTS["torch"], say)


def device_self_check(python: Path, device: str) -> tuple[dict | None, str]:
    """jobs/torch_models/selfcheck.py in the torch env: (its report, "") or (None, why it failed)."""
    with tempfile.TemporaryDirectory(prefix="orch-selfcheck-") as tmp:
        out = Path(tmp) / "report.json"
        command = [str(python), "-m", "jobs.torch_models.selfcheck", "--device", device, "--out", str(out)]
        env = {**os.environ, "PYTHONPATH": str(paths.job_code_root())}
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=paths.job_code_root())
        if done.returncode != 0:
            return None, (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return json.loads(out.read_text()), ""


def mac_report(device: str, python: str | None) -> dict:
    """What `orch doctor --mac` writes: the machine, macOS, the timesfm platform and the device self-check."""
    engine_ok, engine = engine_status()
    checks = [macos_row()]
    checks.append(
        timesfm_platform_row() if engine_ok else {"check": "timesfm image platform", "ok": False, "detail": engine}
    )
    report, error = device_self_check(torch_python(python), device)
    if report is None:
        checks.append({"check": f"torch models on {device} vs cpu", "ok": False, "detail": error})
    else:
        for name, row in report["models"].items():
            detail = (
                "code path only (no data on meta)"
                if row["ok"] is None
                else f"logits {row['logits']:.1e}, gradients {row['gradients']:.1e} (tolerance {report['tolerance']:g})"
            )
            checks.append({"check": f"{name} on {device} vs cpu", "ok": row["ok"] is not False, "detail": detail})
    return {
        "orch_self_check": 1,
        "machine": {"system": platform.system(), "machine": platform.machine(), "macos": platform.mac_ver()[0]},
        "engine": engine,
        "checks": checks,
        "device_self_check": report,
    }


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
    if sys.platform == "darwin":
        rows.append(macos_row())
    engine_ok, detail = engine_status()
    docker_ok = engine_ok
    if engine_ok:
        docker_ok, base = _base_image_available(base_image())
        detail = f"{detail}, {base}"
    native = ", ".join(sorted(native_only_envs()))
    rows.append(
        {
            "check": "docker executor",
            "ok": docker_ok,
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
    if docker_ok:  # last: the probe runs the base image and caches its answer (creating the cache folder)
        rows.append(timesfm_platform_row())
    return rows


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option(
    "--ray-address",
    envvar="ORCH_RAY_ADDRESS",
    metavar="HOST:PORT",
    help="also show this Ray cluster's nodes and resources [env: ORCH_RAY_ADDRESS]",
)
@click.option(
    "--mac",
    "mac",
    is_flag=True,
    help="the Apple-silicon self-check: macOS 14+, the timesfm image platform, and every torch model's forward "
    "and backward on --device against the CPU; writes --out",
)
@click.option("--device", default="mps", show_default=True, help="--mac: the device compared with the CPU")
@click.option(
    "--python",
    "python",
    metavar="PATH",
    help="--mac: an interpreter with the torch env's pins (default: orch's torch venv, built on first use)",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default="orch-mac-check.json",
    show_default=True,
    help="--mac: the JSON report to attach to an issue",
)
def doctor_command(
    as_json: bool, ray_address: str | None, mac: bool, device: str, python: str | None, out: Path
) -> None:
    """What executors and accelerators are usable here, and why not."""
    if mac:
        report = mac_report(device, python)
        atomic_write_text(out, json.dumps(report, indent=2) + "\n")
        rows = report["checks"]
        if as_json:
            print_json(report)
            return
        print_table(
            "orch doctor --mac",
            ["check", "ok", "detail"],
            [[r["check"], "yes" if r["ok"] else "no", r["detail"]] for r in rows],
        )
        say(f"wrote {out}: attach it to an issue")
        return
    rows = collect(ray_address)
    if as_json:
        print_json(rows)
        return
    print_table(
        "orch doctor", ["check", "ok", "detail"], [[r["check"], "yes" if r["ok"] else "no", r["detail"]] for r in rows]
    )
