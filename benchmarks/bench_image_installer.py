"""Cold image builds with pip vs uv as the installer of the pins (images/Dockerfile's INSTALLER arg).

    python benchmarks/bench_image_installer.py [--envs gluonts,timesfm] [--installers uv,pip] [--keep]

Each build is `docker build --no-cache` of the same context `orch build` sends (write_context: the
input files plus .orch-build/ CA bundle and local wheels) with orch's build args plus INSTALLER,
tagged fdinvest-bench-<env>:<installer>. Prints seconds per build, then compares the installed
distributions (name==version from importlib.metadata inside each image) and the venv's file count
between installers; exits 1 when they differ. Set ORCH_BASE_IMAGE when no registry is reachable.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.engine import base_image, ensure_base_image
from orchestrator.executors.images import docker_build_argv, env_platform, write_context

LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m; "
    "print('\\n'.join(sorted(f\"{d.metadata['Name'].lower()}=={d.version}\" for d in m.distributions())))"
)
COUNT_FILES = "find /opt/venv -type f | wc -l; find /opt/venv -name '*.pyc' | wc -l; du -sm /opt/venv | cut -f1"


def build_seconds(env_name: str, installer: str, tag: str) -> float:
    env = ENVIRONMENTS[env_name]
    ensure_base_image(base_image(env_platform(env)), env_platform(env))
    command = docker_build_argv(env, [tag])
    command[-1:-1] = ["--no-cache", "--build-arg", f"INSTALLER={installer}"]
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        context = Path(tmp) / "context.tar"
        write_context(env, context)
        started = time.perf_counter()
        with open(context, "rb") as stdin:
            done = subprocess.run(
                command,
                stdin=stdin,
                check=False,
                capture_output=True,
                text=True,
                env={**os.environ, "DOCKER_BUILDKIT": "0"},
            )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"build {tag} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    said = [line.replace("\x1b[91m", "").replace("\x1b[0m", "") for line in (done.stdout + done.stderr).splitlines()]
    if installer == "uv" and any(line.startswith("uv could not be installed") for line in said):
        sys.exit(f"build {tag} fell back to pip: uv could not be installed")
    return seconds


def in_image(tag: str, *command: str) -> str:
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", command[0], tag, *command[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="gluonts,timesfm")
    parser.add_argument("--installers", default="uv,pip")
    parser.add_argument("--keep", action="store_true", help="keep the fdinvest-bench-* images")
    args = parser.parse_args()
    installers = args.installers.split(",")
    same = True
    for env_name in args.envs.split(","):
        listings = {}
        for installer in installers:
            tag = f"fdinvest-bench-{env_name}:{installer}"
            seconds = build_seconds(env_name, installer, tag)
            listings[installer] = in_image(tag, "python", "-c", LIST_DISTRIBUTIONS).split()
            files, pycs, megabytes = in_image(tag, "sh", "-c", COUNT_FILES).split()
            print(
                f"{env_name:8} {installer:4} cold build {seconds:7.1f}s  {len(listings[installer])} distributions"
                f"  venv {files} files ({pycs} .pyc) {megabytes} MB",
                flush=True,
            )
            if not args.keep:
                subprocess.run(["docker", "image", "rm", tag], check=False, capture_output=True)
        first, *others = installers
        for other in others:
            a, b = set(listings[first]), set(listings[other])
            if a != b:
                same = False
                print(f"{env_name}: {first} only {sorted(a - b)}; {other} only {sorted(b - a)}")
            else:
                print(f"{env_name}: {first} and {other} install the same {len(a)} distributions")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
