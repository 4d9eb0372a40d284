"""`--executor ray` against a real two-node Ray cluster on 127.0.0.1 (one per module: ray start
costs seconds), with the real sklearn and torch jobs on the bundled S&P 500 data."""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from orchestrator import registry
from orchestrator.cli import cli
from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.ray_executor import task_resources, unschedulable
from orchestrator.executors.ray_node import mismatch
from orchestrator.runs import plan_run
from tests.support.helpers import REPO
from tests.support.ray_cluster import LoopbackCluster, cmdline, descendants, listening_addresses, wait_for

ORCH_TIMEOUT_S = 900  # includes the first use of the torch venv on the node
JOB_START_TIMEOUT_S = 600  # the node may build the env's venv before the job starts
LOOPBACK = {"127.0.0.1", "[::ffff:127.0.0.1]"}


@pytest.fixture(scope="module")
def ray_home(tmp_path_factory) -> Path:
    """A fresh HOME for every Ray process of this module: nothing in ~/.ray may make them work."""
    return tmp_path_factory.mktemp("ray-home")


def without_ray_auth(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if not name.startswith("RAY_AUTH")}


@pytest.fixture(scope="module")
def ray_cluster(venv_cache, ray_home):
    # A SIGTERM to pytest (a CI timeout) becomes KeyboardInterrupt, so the teardown still stops the nodes.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    env = {**without_ray_auth(dict(os.environ)), "ORCH_CACHE_DIR": str(venv_cache), "HOME": str(ray_home)}
    cluster = LoopbackCluster(env).start()
    try:
        yield cluster
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def plain_env(orch_home, ray_home) -> dict[str, str]:
    """The environment `orch` runs in: the test's ORCH_* folders, the fresh HOME, no Ray token."""
    return {**without_ray_auth(dict(os.environ)), "HOME": str(ray_home)}


@pytest.fixture
def ray_env(plain_env, ray_cluster) -> dict[str, str]:
    """`plain_env` plus the test cluster's token, as a user of that cluster would set it."""
    return {**plain_env, **ray_cluster.driver_env()}


def assert_token_nowhere(token: str, *folders: Path) -> None:
    """The cluster's token is in no file under `folders` (results, logs, failure records, ~/.ray)."""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path


def orch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=ORCH_TIMEOUT_S,
    )


def start_orch(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def summary(done: subprocess.CompletedProcess | tuple[str, str]) -> dict:
    stdout = done.stdout if isinstance(done, subprocess.CompletedProcess) else done[0]
    return json.loads(stdout[stdout.index("{") :])


def finished(results: Path) -> dict[str, Path]:
    return {p.name.split("-s0-")[0]: p for p in results.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}


def ray_jobs(venv_cache: Path) -> list[int]:
    """PIDs of jobs a Ray node is running now: the venv's python on a spec in a node's scratch folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            command = cmdline(int(entry.name))
            if str(venv_cache) in command and "-m jobs run" in command and "orch-ray-" in command:
                found.append(int(entry.name))
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def gone(pids: list[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() and cmdline(pid) for pid in pids)


def test_cluster_listens_on_loopback_only(ray_cluster):
    pids = set(ray_cluster.pids())
    for pid in ray_cluster.pids():
        pids |= descendants(pid)
    addresses = listening_addresses(pids)
    assert addresses and addresses <= LOOPBACK, addresses


def test_ray_results_match_native_and_are_local_cache_hits(ray_cluster, ray_env, orch_home, tmp_path):
    runs = (("logreg-h1",), ("dlinear-h1", "--set", "epochs=1"))
    for selection in runs:
        done = orch(ray_env, "run", *selection, "--executor", "ray", "--ray-address", ray_cluster.address, "--json")
        assert done.returncode == 0, done.stderr[-3000:]
        assert summary(done)["experiments"][0]["status"] == "ok"
    on_ray = finished(orch_home["ORCH_RESULTS_DIR"])
    for slug in ("logreg-h1", "dlinear-h1"):
        provenance = json.loads((on_ray[slug] / "result.json").read_text())["provenance"]
        assert provenance["executor"] == "ray"
        assert "127.0.0.1" in provenance["node"] and "ray node" in provenance["node"]

    for selection in runs:  # the host's own plan reuses what the cluster made
        plan = json.loads(orch(ray_env, "plan", *selection, "--executor", "native", "--json").stdout)
        assert [d["action"] for d in plan] == ["skip"], plan

    native_env = {**ray_env, "ORCH_RESULTS_DIR": str(tmp_path / "native")}
    for selection in runs:
        done = orch(native_env, "run", *selection, "--executor", "native", "--json")
        assert done.returncode == 0, done.stderr[-3000:]
    native = finished(tmp_path / "native")
    assert_token_nowhere(ray_cluster.token, orch_home["ORCH_RESULTS_DIR"])
    assert not (Path(ray_env["HOME"]) / ".ray").exists()
    for slug in ("logreg-h1", "dlinear-h1"):
        ray_result = json.loads((on_ray[slug] / "result.json").read_text())
        native_result = json.loads((native[slug] / "result.json").read_text())
        assert ray_result["provenance"]["run_key"] == native_result["provenance"]["run_key"]
        for split in ("val", "test"):
            assert ray_result["metrics"][split]["auc"] == native_result["metrics"][split]["auc"], (slug, split)
        # Same model up to float summation order (torch's CPU thread split can differ by a few ulps).
        assert pq.read_table(on_ray[slug] / "predictions.parquet").column("p").to_pylist() == pytest.approx(
            pq.read_table(native[slug] / "predictions.parquet").column("p").to_pylist(), abs=1e-6
        )


def test_killed_worker_is_a_clean_failure(ray_cluster, ray_env, orch_home, venv_cache):
    process = start_orch(
        ray_env, "run", "logreg-h3", "--executor", "ray", "--ray-address", ray_cluster.address, "--json"
    )
    try:
        job = wait_for(lambda: ray_jobs(venv_cache), JOB_START_TIMEOUT_S, "the job to start on the worker node")[0]
        worker = parent_of(job)
        assert "ray::" in cmdline(worker) or "default_worker" in cmdline(worker), cmdline(worker)
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=ORCH_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 2, stderr[-2000:]
    outcome = summary((stdout, stderr))["experiments"][0]
    assert outcome["status"] == "failed" and "died mid-job" in outcome["detail"], outcome
    wait_for(lambda: gone([job]), 30, "the orphaned job to die with its worker")
    results = orch_home["ORCH_RESULTS_DIR"]
    assert finished(results) == {}
    failure = json.loads(next((results / "_failed").glob("logreg-h3-*/failure.json")).read_text())
    assert failure["kind"] == "crash" and "died mid-job" in failure["reason"]
    plan = json.loads(orch(ray_env, "plan", "logreg-h3", "--executor", "native", "--json").stdout)
    assert plan[0]["action"] == "run" and "fail" in plan[0]["reason"], plan


def test_a_killed_worker_is_retried_when_asked(ray_cluster, ray_env, orch_home, venv_cache):
    process = start_orch(
        ray_env,
        "run",
        "logregvol-h3",
        "--executor",
        "ray",
        "--ray-address",
        ray_cluster.address,
        "--ray-retries",
        "1",
        "--json",
    )
    try:
        first = wait_for(lambda: ray_jobs(venv_cache), JOB_START_TIMEOUT_S, "the job to start on the worker node")[0]
        os.kill(parent_of(first), signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=ORCH_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr[-2000:]
    assert summary((stdout, stderr))["experiments"][0]["status"] == "ok"
    assert set(finished(orch_home["ORCH_RESULTS_DIR"])) == {"logregvol-h3"}


def test_ctrl_c_cancels_every_remote_task(ray_cluster, ray_env, orch_home, venv_cache):
    process = start_orch(
        ray_env,
        "run",
        "logreg-h1",
        "logregvol-h1",
        "-j",
        "2",
        "--executor",
        "ray",
        "--ray-address",
        ray_cluster.address,
        "--json",
    )
    try:
        jobs = wait_for(
            lambda: found if len(found := ray_jobs(venv_cache)) == 2 else None,
            JOB_START_TIMEOUT_S,
            "both jobs to run on the worker node",
        )
        workers = [parent_of(job) for job in jobs]
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr[-2000:]
    wait_for(lambda: gone(jobs + workers), 60, "the remote tasks' workers and jobs to stop")
    # A job that completed between the check above and the signal is a finished result, kept
    # whole; every other one is recorded as interrupted, and nothing partial is left.
    results = orch_home["ORCH_RESULTS_DIR"]
    failures = [json.loads(f.read_text()) for f in (results / "_failed").glob("*/failure.json")]
    interrupted = {f["slug"] for f in failures if f["kind"] == "interrupted"}
    assert interrupted and {f["kind"] for f in failures} == {"interrupted"}, failures
    assert set(finished(results)) | interrupted == {"logreg-h1", "logregvol-h1"}
    assert not set(finished(results)) & interrupted
    assert not [p for p in (results / ".staging").glob("*") if p.is_dir()]


def test_doctor_shows_the_cluster_resources(ray_cluster, ray_env):
    done = orch(ray_env, "doctor", "--ray-address", ray_cluster.address, "--json")
    rows = {row["check"]: row for row in json.loads(done.stdout) if row["check"].startswith("ray")}
    assert rows["ray cluster"]["ok"] and "2 nodes: 2 CPUs, 0 GPUs" in rows["ray cluster"]["detail"], rows
    assert rows["ray node"]["detail"].startswith("127.0.0.1")
    assert rows["ray token auth"]["detail"] == "token auth on (token from RAY_AUTH_TOKEN)", rows


def test_a_cluster_that_needs_a_token_says_how_to_give_one(ray_cluster, plain_env):
    """No token set (fresh HOME, no RAY_AUTH_*): one line naming RAY_AUTH_TOKEN, exit 2, nothing run."""
    done = orch(plain_env, "run", "logreg-h1", "--executor", "ray", "--ray-address", ray_cluster.address)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "RAY_AUTH_TOKEN" in errors[0] and "ray get-auth-token" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not Path(plain_env["ORCH_RESULTS_DIR"]).exists() or finished(Path(plain_env["ORCH_RESULTS_DIR"])) == {}


def test_dataset_travels_by_hash_through_the_object_store(ray_cluster, ray_env, bundled_data, tmp_path):
    """A node without the host's data path fetches the dataset once, verifies its sha256, keeps it."""
    source, manifest = bundled_data
    script = f"""
import os, sys
from pathlib import Path
from orchestrator.executors.ray_cluster import import_ray
from orchestrator.executors.ray_node import DatasetOnHost, dataset_dir
ray = import_ray(loopback=True)
ray.init(address={ray_cluster.address!r}, log_to_driver=False)
files = {{name: (Path({str(source)!r}) / name).read_bytes() for name in ({manifest.name + ".parquet"!r}, {manifest.name + ".manifest.json"!r})}}
good = DatasetOnHost({manifest.name!r}, {manifest.sha256!r}, "/nonexistent/data", [ray.put(files)])
print(dataset_dir(good, print))
bad = DatasetOnHost({manifest.name!r}, "0" * 64, "/nonexistent/data", [ray.put(files)])
try:
    dataset_dir(bad, print)
except RuntimeError as exc:
    print("refused:", exc)
"""
    env = {**ray_env, "ORCH_CACHE_DIR": str(tmp_path / "node-cache")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[1] == str(tmp_path / "node-cache" / "ray-datasets" / manifest.sha256)
    assert (Path(lines[1]) / f"{manifest.name}.parquet").read_bytes() == (
        source / f"{manifest.name}.parquet"
    ).read_bytes()
    assert lines[-1].startswith("refused: dataset fetched from the object store has sha256")


def test_unreachable_address_is_one_line_exit_2(orch_home):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    for address, expected in ((f"127.0.0.1:{port}", "no Ray cluster answers at"), ("nohost", "expected HOST:PORT")):
        result = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "ray", "--ray-address", address])
        assert result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and expected in errors[0] and "Traceback" not in result.output, result.output


def test_without_an_address_a_local_cluster_runs_the_job_and_stops(plain_env, orch_home, tmp_path):
    def ray_processes() -> set[int]:
        return {
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and any(name in cmdline(int(p.name)) for name in ("gcs_server", "/raylet "))
        }

    before = ray_processes()
    home = tmp_path / "fresh-home"
    home.mkdir()
    done = orch({**plain_env, "HOME": str(home)}, "run", "logregvol-h3", "--executor", "ray", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "started a local one-machine cluster on 127.0.0.1" in done.stderr
    assert not (home / ".ray").exists()  # its token lived in the environment of this run only
    result = json.loads((finished(orch_home["ORCH_RESULTS_DIR"])["logregvol-h3"] / "result.json").read_text())
    assert result["provenance"]["executor"] == "ray" and "127.0.0.1" in result["provenance"]["node"]
    wait_for(lambda: ray_processes() <= before, 60, "the local Ray instance to stop")


def test_node_refuses_a_job_it_would_not_reproduce(bundled_data):
    """A node with another Python/platform/pins or other job code would make a different cache entry."""
    _, manifest = bundled_data
    experiment = registry.BY_SLUG["logreg-h1"]
    environment = ENVIRONMENTS[experiment.env]
    planned = plan_run(experiment, manifest, "quick", 0, env_fingerprint=environment.native_fingerprint())
    assert mismatch(planned) is None
    other_env = dataclasses.replace(
        planned, key=dataclasses.replace(planned.key, env_fingerprint="lock-0123456789abcdef")
    )
    assert "builds env 'sklearn' as" in mismatch(other_env)
    other_code = dataclasses.replace(planned, key=dataclasses.replace(planned.key, code_sha256="0" * 64))
    assert "code hash mismatch" in mismatch(other_code)


def test_task_resources_follow_the_registry_and_the_cluster():
    torch_like = registry.Resources(cpus=2, memory_gb=4.0, gpu="optional")
    assert task_resources(torch_like, cluster_has_gpus=False) == {"num_cpus": 2, "num_gpus": 0, "memory": 4 * 2**30}
    assert task_resources(torch_like, cluster_has_gpus=True)["num_gpus"] == 1
    small_node = [{"Resources": {"CPU": 2.0, "memory": 3 * 2**30}}]
    assert "no node of the Ray cluster offers 2 CPUs, 0 GPUs and 4 GiB memory" in unschedulable(
        task_resources(torch_like, False), small_node
    )
    assert unschedulable(task_resources(registry.Resources(cpus=1, memory_gb=1.0), False), small_node) is None
