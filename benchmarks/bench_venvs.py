"""Native venv build time, pip vs uv, for the torch, gluonts and timesfm envs, cold and warm cache.

Each build goes through orch's own VenvManager into a fresh venv folder. "cold": the installer's
download cache is an empty folder; "warm": a second build right after, with the cache the cold build
filled. Both installers read the same package sources (uv gets pip's settings translated).
Afterwards the two venvs of an env must hold exactly the same distributions (names and versions).

    python benchmarks/bench_venvs.py [--envs torch,gluonts,timesfm] [--out /tmp/bench-venvs]

Downloads the envs' wheels (several GB cold, per installer); prints one table at the end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.native import VenvManager

LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted({d.metadata['Name'].lower().replace('_', '-'): d.version "
    "for d in m.distributions() if d.metadata['Name']}.items())))"
)


def build_once(env_name: str, tool: str, cache: Path, venvs: Path) -> tuple[float, Path]:
    os.environ["ORCH_VENV_TOOL"] = tool
    os.environ["PIP_CACHE_DIR"] = str(cache / "pip")
    os.environ["UV_CACHE_DIR"] = str(cache / "uv")
    started = time.perf_counter()
    python = VenvManager(venvs).ensure(ENVIRONMENTS[env_name], lambda line: None)
    return time.perf_counter() - started, python


def distributions(python: Path) -> list:
    done = subprocess.run(
        [str(python), "-c", LIST_DISTRIBUTIONS], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="torch,gluonts,timesfm")
    parser.add_argument("--out", type=Path, default=None, help="working folder (default: a temp dir, removed after)")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench-venvs-"))
    rows = []
    for env_name in args.envs.split(","):
        installed = {}
        for tool in ("pip", "uv"):
            cache = work / f"cache-{env_name}-{tool}"
            timings = {}
            for phase in ("cold", "warm"):
                venvs = work / f"venvs-{env_name}-{tool}-{phase}"
                seconds, python = build_once(env_name, tool, cache, venvs)
                timings[phase] = seconds
                installed[tool] = distributions(python)
                print(f"[bench] {env_name:8s} {tool:3s} {phase}: {seconds:7.1f} s", flush=True)
                shutil.rmtree(venvs, ignore_errors=True)
            rows.append((env_name, tool, timings["cold"], timings["warm"]))
        pip_only = sorted(set(map(tuple, installed["pip"])) - set(map(tuple, installed["uv"])))
        uv_only = sorted(set(map(tuple, installed["uv"])) - set(map(tuple, installed["pip"])))
        same = "same distributions" if not (pip_only or uv_only) else f"differ: pip-only {pip_only}, uv-only {uv_only}"
        print(f"[bench] {env_name}: pip and uv venvs hold {same}", flush=True)
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'env':8s} {'installer':9s} {'cold s':>8s} {'warm s':>8s}")
    for env_name, tool, cold, warm in rows:
        print(f"{env_name:8s} {tool:9s} {cold:8.1f} {warm:8.1f}")
    for env_name in dict.fromkeys(row[0] for row in rows):
        pip_row, uv_row = [row for row in rows if row[0] == env_name]
        print(f"{env_name}: uv/pip time ratio cold {uv_row[2] / pip_row[2]:.2f}, warm {uv_row[3] / pip_row[3]:.2f}")


if __name__ == "__main__":
    main()
