"""The Ray cluster `orch` talks to: an existing one at an address, or a one-machine one for the run.

Ray is imported lazily (only `--executor ray` and `orch doctor --ray-address` load it), so `orch`
starts fast without it. The job code travels to the nodes as the run's Ray `working_dir`: a copy of
exactly the folders a node needs (orchestrator/, jobs/, shared_schema/, images/*/requirements.txt, laid out as in an installed copy).
"""

import importlib.metadata
import importlib.util
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.executors import ray_auth
from orchestrator.paths import CODE_ROOT, IMAGES_DIR, INSTALLED_IMAGES

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
CODE_FOLDERS = ("orchestrator", "jobs", "shared_schema")
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RaySettings:
    address: str | None  # host:port of a running cluster's head (GCS); None = start a local one for the run
    retries: int  # Ray re-runs a job whose worker or node died this many times before reporting it failed

    def __post_init__(self) -> None:
        if self.address is not None:
            parse_address(self.address)  # a malformed address is refused before any work starts


def installed_version() -> str | None:
    """Ray's version without importing it (importing ray costs about half a second)."""
    if importlib.util.find_spec("ray") is None:
        return None
    return importlib.metadata.version("ray")


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--ray-address {address!r}: expected HOST:PORT of the cluster's head, e.g. 10.0.0.5:6379")
    return host, int(port)


def check_reachable(address: str) -> None:
    """A one-line reason (exit 2) instead of Ray's minute-long reconnect loop."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, UnicodeError) as exc:  # UnicodeError: a host name no resolver accepts
        raise UserError(
            f"no Ray cluster answers at {address} ({getattr(exc, 'strerror', None) or exc}); start one with "
            f"`ray start --head`, or leave out --ray-address for a local one-machine cluster"
        ) from exc


def import_ray(loopback: bool):
    """Import ray; `loopback` keeps every Ray process of this run on 127.0.0.1.

    Ray otherwise replaces 127.0.0.1 with the machine's outward address and listens on every
    interface; this variable (read when ray is imported) makes it use and bind the loopback address.
    """
    if loopback:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if installed_version() is None:
        raise UserError("--executor ray needs Ray on the host: pip install -e '.[ray]'")
    import ray

    return ray


def code_snapshot(folder: Path) -> Path:
    """Copy what a node needs to run a job into `folder` (the run's Ray working_dir)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in CODE_FOLDERS:
        shutil.copytree(CODE_ROOT / name, folder / name, ignore=ignore)
    # Laid out as an installed copy (no pyproject.toml): the pins go where paths.IMAGES_DIR looks then.
    installed_images = folder / INSTALLED_IMAGES.relative_to(CODE_ROOT)
    for requirements in sorted(IMAGES_DIR.glob("*/requirements.txt")):
        target = installed_images / requirements.relative_to(IMAGES_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(requirements, target)
    return folder


class RayCluster:
    """One connection per `orch run`; a local instance it started is stopped by `close()`."""

    def __init__(self, settings: RaySettings):
        self.settings = settings
        self.ray = None
        self._snapshot: tempfile.TemporaryDirectory | None = None
        self._environ_before: dict[str, str | None] = {}

    def connect(self, say: Callable[[str], None]):
        if self.ray is not None:
            return self.ray
        address = self.settings.address
        if address:
            check_reachable(address)
        self._environ_before = {
            name: os.environ.get(name) for name in (ray_auth.MODE_VARIABLE, ray_auth.TOKEN_VARIABLE)
        }
        if address:
            token = ray_auth.use_token_for_existing_cluster()
        else:
            ray_auth.use_token_for_local_cluster()
        ray = import_ray(loopback=address is None or parse_address(address)[0] in LOOPBACK_HOSTS)
        self._snapshot = tempfile.TemporaryDirectory(prefix="orch-ray-code-")
        runtime_env = {"working_dir": str(code_snapshot(Path(self._snapshot.name)))}
        try:
            if address:
                ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
            else:
                ray.init(address="local", include_dashboard=False, runtime_env=runtime_env, log_to_driver=False)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            self._snapshot.cleanup()
            self._restore_environ()
            if address:
                raise UserError(connect_failure(address, token, exc)) from exc
            raise UserError(f"could not start a local Ray cluster: {' '.join(str(exc).split())[:300]}") from exc
        self.ray = ray
        say(
            f"ray: {'connected to ' + address if address else 'started a local one-machine cluster on 127.0.0.1'} "
            f"({summary(ray)})"
        )
        return ray

    def close(self) -> None:
        """Disconnect; a local instance started for this run stops with it."""
        if self.ray is not None:
            self.ray.shutdown()
            self.ray = None
        if self._snapshot is not None:
            self._snapshot.cleanup()
            self._snapshot = None
        self._restore_environ()

    def _restore_environ(self) -> None:
        """The token made for a local cluster dies with it (CliRunner runs orch inside the caller)."""
        for name, value in self._environ_before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._environ_before = {}


def connect_failure(address: str, token: ray_auth.TokenSource, exc: Exception) -> str:
    """One line: why `ray.init` failed, and how to give the token when that may be the cause."""
    reason = " ".join(str(exc).split())
    if ray_auth.is_auth_failure(exc) and not token.where:
        return (
            f"the Ray cluster at {address} needs an authentication token and none is set: set "
            f"{ray_auth.TOKEN_VARIABLE} to its token (`ray get-auth-token` on the head node prints it)"
        )
    if ray_auth.is_auth_failure(exc):
        return f"the Ray cluster at {address} refused the token ({token.describe}): {reason[:200]}"
    hint = f"; {ray_auth.TOKEN_HINT}" if not token.where else f" ({token.describe}: is it this cluster's?)"
    return f"could not connect to the Ray cluster at {address}: {reason[:200]}{hint}"


def alive_nodes(ray) -> list[dict]:
    return [node for node in ray.nodes() if node.get("Alive")]


def summary(ray) -> str:
    """'2 nodes: 4 CPUs, 0 GPUs, 30.1 GiB memory' for the alive part of the cluster."""
    nodes = alive_nodes(ray)
    total = {key: sum(node["Resources"].get(key, 0) for node in nodes) for key in ("CPU", "GPU", "memory")}
    return (
        f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}: {total['CPU']:g} CPUs, {total['GPU']:g} GPUs, "
        f"{total['memory'] / 2**30:.1f} GiB memory"
    )


def describe_nodes(ray) -> list[str]:
    """One line per alive node, for `orch doctor`."""
    return [
        f"{node['NodeManagerAddress']} ({node['NodeID'][:12]}): {node['Resources'].get('CPU', 0):g} CPUs, "
        f"{node['Resources'].get('GPU', 0):g} GPUs, {node['Resources'].get('memory', 0) / 2**30:.1f} GiB memory"
        for node in alive_nodes(ray)
    ]


def doctor_rows(address: str | None) -> list[dict]:
    """`orch doctor`: whether Ray is usable, and the cluster's resources when an address is given."""
    version = installed_version()
    if version is None:
        return [{"check": "ray executor", "ok": False, "detail": "ray not installed: pip install -e '.[ray]'"}]
    if not address:
        return [
            {
                "check": "ray executor",
                "ok": True,
                "detail": f"ray {version}; --executor ray starts a local one-machine cluster on 127.0.0.1 "
                f"({os.cpu_count()} CPUs); set ORCH_RAY_ADDRESS or --ray-address for an existing cluster",
            }
        ]
    token = ray_auth.use_token_for_existing_cluster()
    try:
        check_reachable(address)
        ray = import_ray(loopback=parse_address(address)[0] in LOOPBACK_HOSTS)
        ray.init(address=address, log_to_driver=False)
    except UserError as exc:  # doctor reports, it does not stop
        return [{"check": "ray cluster", "ok": False, "detail": str(exc)}]
    except Exception as exc:
        return [{"check": "ray cluster", "ok": False, "detail": connect_failure(address, token, exc)}]
    try:
        rows = [
            {"check": "ray cluster", "ok": True, "detail": f"ray {version} at {address}: {summary(ray)}"},
            {"check": "ray token auth", "ok": True, "detail": ray_auth.token_auth_state()},
        ]
        rows += [{"check": "ray node", "ok": True, "detail": line} for line in describe_nodes(ray)]
    finally:
        ray.shutdown()
    return rows
