"""A two-node Ray cluster on 127.0.0.1 for the tests: a head with no CPUs and one worker node.

Like every cluster orch starts, it has token authentication on with a token made for it alone and
handed to both nodes (and to each driver, via `driver_env`) in the environment, never via ~/.ray.

Both nodes are `ray start --block` processes this helper starts in their own sessions; stop() ends
exactly those (SIGTERM to each one's process group, SIGKILL after a bounded wait), by PID.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.executors.base import stop_process_group
from orchestrator.executors.ray_auth import new_cluster_token, token_env

READY_LINE = "Ray runtime started"
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class StartedNode:
    process: subprocess.Popen
    output: list[str]


def start_node(command: list[str], env: dict[str, str]) -> StartedNode:
    """Start one node and wait (bounded) for Ray's ready line; its output is kept for failures."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            output.append(line.rstrip())
            if READY_LINE in line:
                ready.set()
        ready.set()  # the process ended: stop waiting

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or process.poll() is not None:
        stop_node(process)
        raise RuntimeError("ray node did not start:\n" + "\n".join(output[-30:]))
    return StartedNode(process, output)


def stop_node(process: subprocess.Popen) -> None:
    """End the node's process group, then any process it started that left the group (by PID)."""
    started = {pid: cmdline(pid) for pid in descendants(process.pid)}
    stop_process_group(process)  # `ray start --block` often hangs on SIGTERM: SIGKILL follows the grace period
    for pid, command in started.items():
        if command and cmdline(pid) == command:  # still the process the node started, not a reused PID
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    except OSError:
        return ""


class LoopbackCluster:
    def __init__(self, env: dict[str, str], worker_cpus: int = 2):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.token = new_cluster_token()
        self.env = {
            **env,
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_USAGE_STATS_ENABLED": "0",
            **token_env(self.token),
            "PYTHONUNBUFFERED": "1",
        }
        self.worker_cpus = worker_cpus
        self.nodes: list[StartedNode] = []

    def start(self) -> "LoopbackCluster":
        try:
            self._start_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_nodes(self) -> None:
        ray_cli = str(Path(sys.executable).parent / "ray")
        self.nodes.append(
            start_node(
                [
                    ray_cli,
                    "start",
                    "--head",
                    "--block",
                    "--node-ip-address",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--include-dashboard=false",
                    "--num-cpus",
                    "0",
                    "--num-gpus",
                    "0",
                    "--disable-usage-stats",
                ],
                self.env,
            )
        )
        self.nodes.append(
            start_node(
                [
                    sys.executable,
                    str(Path(__file__).with_name("ray_worker_node.py")),
                    "start",
                    "--block",
                    "--address",
                    self.address,
                    "--node-ip-address",
                    "127.0.0.1",
                    "--num-cpus",
                    str(self.worker_cpus),
                    "--num-gpus",
                    "0",
                    "--disable-usage-stats",
                ],
                self.env,
            )
        )

    def driver_env(self) -> dict[str, str]:
        """What a driver (orch, or a test script) needs besides the address to join this cluster."""
        return token_env(self.token)

    def pids(self) -> list[int]:
        return [node.process.pid for node in self.nodes]

    def stop(self) -> None:
        for node in reversed(self.nodes):
            stop_node(node.process)


def listening_addresses(pids: set[int]) -> set[str]:
    """Local addresses the given processes (and nothing else) listen on, from `ss`."""
    done = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, timeout=30)
    found = set()
    for line in done.stdout.splitlines():
        if any(f"pid={pid}," in line for pid in pids):
            found.add(line.split()[3].rsplit(":", 1)[0])
    return found


def descendants(root: int) -> set[int]:
    """Every process below `root` (from /proc), so a test can check where its cluster listens."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_for(predicate, timeout_s: float, what: str):
    """Poll `predicate` until it returns something truthy; a bounded wait on an event."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
