"""Docker executor, images and compose services, against the REAL engine.

Without an engine these tests fail loudly, unless ORCH_SKIP_DOCKER=1: then they are skipped and
the session's summary says in capitals that the container suites were NOT run. The compose drift
test and the generated-command checks need no engine and always run. Images are built once per
session (docker's layer cache makes a rebuild after a code change take seconds); executor
behaviour is tested with the sklearn image, the smallest.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.commands import docker as docker_commands
from orchestrator.environments import ENVIRONMENTS, IMAGE_PYTHON, Environment, package_key
from orchestrator.executors import (
    AutoExecutor,
    ExecutorOptions,
    NativeExecutor,
    choose_executor,
    native_only_envs,
    platforms,
)
from orchestrator.executors.base import JobRequest
from orchestrator.executors.docker import PIDS_LIMIT, DockerExecutor, container_user, leftover_containers
from orchestrator.executors.engine import engine_platform, engine_status
from orchestrator.executors.images import CHECKOUT_LABEL, ImageBuilder, checkout_id, image_platform, image_tag
from orchestrator.registry import BY_SLUG, Resources
from orchestrator.results import RESULT_FILE, load_result
from orchestrator.runs import make_spec, plan_run
from shared_schema.identity import lock_hash
from tests.support.helpers import EVENT_TIMEOUT, JOB_STARTED, REPO, wait_for

CI_BASE_IMAGE = "fdinvest-base:bookworm-py311"
SKIP_ENV = "ORCH_SKIP_DOCKER"


# -- the engine gate -----------------------------------------------------------------------------
class _NotRunReport:
    """Registered when ORCH_SKIP_DOCKER=1 so the terminal summary says what was not tested."""

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_sep(
            "!",
            "DOCKER CONTAINER SUITES WERE NOT RUN (ORCH_SKIP_DOCKER=1): images, docker "
            "executor, compose and tests/images/* are untested in this session",
            red=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def engine(request) -> str:
    if os.environ.get(SKIP_ENV) == "1":
        if not getattr(request.config, "_orch_docker_report", False):
            request.config.pluginmanager.register(_NotRunReport(), "orch-docker-not-run")
            request.config._orch_docker_report = True
        pytest.skip(f"{SKIP_ENV}=1: Docker tests NOT run")
    ok, detail = engine_status()
    if not ok:
        pytest.fail(
            f"no Docker engine: {detail}. These tests need a real engine (CI: .ci/docker-setup.sh); "
            f"set {SKIP_ENV}=1 to skip them knowingly",
            pytrace=False,
        )
    if not os.environ.get("ORCH_BASE_IMAGE"):
        # CI cannot pull python:3.11-slim; .ci/docker-setup.sh imports a bookworm base under this tag.
        if subprocess.run(["docker", "image", "inspect", CI_BASE_IMAGE], capture_output=True).returncode == 0:
            os.environ["ORCH_BASE_IMAGE"] = CI_BASE_IMAGE
    return detail


@pytest.fixture(scope="session")
def sklearn_image(engine):
    return ImageBuilder().ensure(ENVIRONMENTS["sklearn"], print)


def _request(run, tmp_path: Path, data_dir: Path, timeout_s: float = 300, cancel=None) -> JobRequest:
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    (staging / "spec.json").write_text(run.spec.model_dump_json())
    kwargs = {"cancel": cancel} if cancel is not None else {}
    return JobRequest(
        run=run,
        staging=staging,
        data_dir=data_dir,
        weights_dir=None,
        threads=1,
        timeout_s=timeout_s,
        log_path=staging / "job.log",
        **kwargs,
    )


@pytest.fixture
def sklearn_run(bundled_data):
    """A planned logreg-h1 run; tests replace its resources or its container command."""

    def make(memory_gb: float = 1.0):
        experiment = dataclasses.replace(BY_SLUG["logreg-h1"], resources=Resources(cpus=1, memory_gb=memory_gb))
        return plan_run(experiment, bundled_data[1], "quick", 0, env_fingerprint="test")

    return make


def _execute(command: list[str], run, tmp_path, data_dir, **kwargs):
    started = time.monotonic()
    outcome = DockerExecutor(job_command=command).execute(_request(run, tmp_path, data_dir, **kwargs))
    return outcome, time.monotonic() - started


# -- no engine needed ----------------------------------------------------------------------------
def test_compose_files_match_the_registry():
    problems = docker_commands.compose_drift()
    assert not problems, "compose.yaml / compose/specs are out of date; run `orch compose`: " + "; ".join(problems)


def test_every_experiment_has_a_compose_service():
    """Every runnable experiment; the plan's rows that can never run here (MarketGPT, LENS) have none."""
    text = (REPO / "compose.yaml").read_text()
    for slug, experiment in BY_SLUG.items():
        present = f"\n  {slug}:\n" in text and f"command: [python, /compose/run.py, {slug}]" in text
        assert present is (experiment.unavailable is None), slug


def _compose_wrapper():
    sys.path.insert(0, str(REPO / "compose"))
    try:
        import run as wrapper
    finally:
        sys.path.pop(0)
    return wrapper


def test_compose_wrapper_derives_the_host_spec_and_run_key(bundled_data, tmp_path):
    """compose/run.py computes the spec, the environment identity and the run key with the host's
    own code: on this host's Python and platform it gets the native run key."""
    wrapper = _compose_wrapper()
    data_dir, manifest = bundled_data
    for slug in ("logreg-h1", "patchtst-h3", "timesfm-h1"):
        experiment = BY_SLUG[slug]
        env = ENVIRONMENTS[experiment.env]
        template = json.loads((REPO / "compose" / "specs" / f"{slug}.json").read_text())
        spec = wrapper.make_spec(template, data_dir)
        assert spec == make_spec(experiment, manifest, "quick", 0)
        assert wrapper.env_fingerprint(experiment.env, REPO) == env.native_fingerprint()
        planned = plan_run(
            experiment, manifest, "quick", 0, env_fingerprint=env.native_fingerprint(), weights_dir=tmp_path
        )
        assert wrapper.key_parts(spec, template, REPO, tmp_path) == planned.key


def test_auto_routes_torch_natively_only_on_apple_silicon():
    assert native_only_envs("darwin", "arm64") == {"torch"}
    assert native_only_envs("darwin", "x86_64") == native_only_envs("linux", "aarch64") == frozenset()
    docker, native = DockerExecutor(), NativeExecutor()
    auto = AutoExecutor(docker=docker, native=native, native_envs=native_only_envs("darwin", "arm64"))
    assert auto.pick(ENVIRONMENTS["torch"]) is native
    assert auto.pick(ENVIRONMENTS["sklearn"]) is docker and auto.pick(ENVIRONMENTS["timesfm"]) is docker


def test_docker_executor_without_engine_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("orchestrator.executors.engine.engine_status", lambda: (False, "engine not reachable: nope"))
    from orchestrator.errors import UserError

    with pytest.raises(UserError, match="no Docker engine answers"):
        choose_executor("docker", ExecutorOptions())
    executor, why = choose_executor("auto", ExecutorOptions())
    assert (
        executor.name == "native" and why == "native venvs (auto: no Docker engine answers: engine not reachable: nope)"
    )


def test_auto_says_it_chose_docker_and_why(engine, orch_home, monkeypatch):
    monkeypatch.setenv("ORCH_EXECUTOR", "auto")
    result = CliRunner().invoke(cli, ["plan", "logreg-h1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"executor: docker (auto: Docker {engine} answers)"), result.output


# -- the real engine -----------------------------------------------------------------------------
def test_image_tag_follows_inputs_and_image_is_reused(sklearn_image, monkeypatch):
    env = ENVIRONMENTS["sklearn"]
    assert sklearn_image.tag == image_tag(env)
    again = ImageBuilder().ensure(env, print)
    assert not again.built and again.image_id == sklearn_image.image_id
    monkeypatch.setenv("ORCH_BASE_IMAGE", "something-else:1")
    assert image_tag(env) != sklearn_image.tag  # a build arg is an input too
    inspect = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config}}", sklearn_image.tag],
        capture_output=True,
        text=True,
    )
    config = json.loads(inspect.stdout)
    assert config["User"] == "orch"  # non-root by default
    # What prune may touch: the checkout that built it (on a shared engine, the same content tag may
    # have been built by another checkout of the same commit; the label then stays the builder's).
    label = config["Labels"][CHECKOUT_LABEL]
    assert len(label) == 12 and int(label, 16) >= 0
    assert label == checkout_id() or not sklearn_image.built


UV_TRACES = """
import importlib.metadata as m, json, pathlib, shutil
venv = pathlib.Path("/opt/venv")
print(json.dumps({
    "installers": sorted({(d.read_text("INSTALLER") or "").strip() for d in m.distributions()}),
    "uv_on_path": shutil.which("uv"),
    "leftovers": [str(p) for p in [venv / ".lock", *venv.rglob("uv_cache.json"), *venv.rglob("uv")] if p.exists()],
    "names": sorted(d.metadata["Name"].lower() for d in m.distributions()),
}))
"""


def test_image_pins_are_installed_by_uv_which_leaves_no_trace(sklearn_image):
    """The build installs the pins with uv (pip only as a fallback: a silent fallback loses the speed),
    and neither uv, its cache nor its venv lock reaches the image; the distributions are the pins."""
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python", sklearn_image.tag, "-c", UV_TRACES],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["installers"] == ["uv"], f"pins installed by {found['installers']}: did the build fall back to pip?"
    assert (found["uv_on_path"], found["leftovers"]) == (None, [])
    assert sorted(package_key(name) for name in found["names"]) == sorted(ENVIRONMENTS["sklearn"].pins())


def test_job_killed_by_its_memory_limit_is_reported_as_oom(sklearn_image, sklearn_run, tmp_path, bundled_data):
    run = sklearn_run(memory_gb=0.125)
    hog = ["python", "-c", "import time; b = [bytearray(16 * 2**20) for _ in range(64)]; time.sleep(5)"]
    outcome, _ = _execute(hog, run, tmp_path, bundled_data[0])
    assert outcome.oom and not outcome.ok and not outcome.timed_out, outcome
    assert "out of memory" in outcome.reason and "0.125 GiB" in outcome.reason
    assert outcome.image_id == sklearn_image.image_id
    assert leftover_containers(os.getpid()) == []


def test_job_past_its_timeout_is_stopped_and_reported(sklearn_image, sklearn_run, tmp_path, bundled_data):
    outcome, seconds = _execute(["sleep", "120"], sklearn_run(), tmp_path, bundled_data[0], timeout_s=3)
    assert outcome.timed_out and not outcome.ok and "timed out after 3s" in outcome.reason, outcome
    assert seconds < 30
    assert leftover_containers(os.getpid()) == []


def test_failing_job_reports_its_one_line_reason(sklearn_image, sklearn_run, tmp_path, bundled_data):
    script = "import sys; print('noise'); print('job failed: the model exploded', file=sys.stderr); sys.exit(3)"
    outcome, _ = _execute(["python", "-c", script], sklearn_run(), tmp_path, bundled_data[0])
    assert outcome.returncode == 3 and not outcome.oom and outcome.reason == "job failed: the model exploded"
    assert "noise" in (tmp_path / "staging" / "job.log").read_text()  # logs streamed to the job log
    assert leftover_containers(os.getpid()) == []


def test_data_mount_is_read_only_and_results_owned_by_host_user(sklearn_image, sklearn_run, tmp_path, bundled_data):
    """The job writes as a non-root uid (the images' `orch` user when orch runs as root); what it
    wrote belongs to the user who ran orch afterwards."""
    script = (
        "import os, sys\n"
        "open('/results/written.txt', 'w').write(str(os.getuid()))\n"
        "[options] = [l.split()[3] for l in open('/proc/self/mounts') if l.split()[1] == '/data']\n"
        "print('job failed: /data mounted', options.split(',')[0], file=sys.stderr); sys.exit(4)\n"
    )
    outcome, _ = _execute(["python", "-c", script], sklearn_run(), tmp_path, bundled_data[0])
    assert outcome.returncode == 4 and outcome.reason == "job failed: /data mounted ro", outcome
    written = tmp_path / "staging" / "written.txt"
    assert written.read_text() == str(container_user()[0]) != "0"
    assert (written.stat().st_uid, written.stat().st_gid) == (os.getuid(), os.getgid())
    assert tmp_path.joinpath("staging").stat().st_uid == os.getuid()
    assert not (bundled_data[0] / "x").exists()


def test_running_job_container_is_sandboxed(sklearn_image, sklearn_run, tmp_path, bundled_data):
    """docker inspect of a RUNNING job container: non-root user, read-only root filesystem with a
    /tmp tmpfs, every capability dropped, no-new-privileges, a pids limit, no network."""
    cancel = threading.Event()
    probe = (
        "import os, time\n"
        "open('/tmp/ok', 'w').write('tmp is writable')\n"
        "try:\n    open('/app/x', 'w'); print('ROOTFS WRITABLE')\nexcept OSError:\n    print('rootfs read-only')\n"
        "time.sleep(120)\n"
    )
    worker = threading.Thread(
        target=_execute,
        args=(["python", "-c", probe], sklearn_run(), tmp_path, bundled_data[0]),
        kwargs={"cancel": cancel},
    )
    worker.start()
    try:
        names: list[str] = []
        deadline = time.monotonic() + 60
        while not names and time.monotonic() < deadline:
            names = leftover_containers(os.getpid())
            time.sleep(0.2)
        assert names, "the job container never started"
        [info] = json.loads(subprocess.run(["docker", "inspect", names[0]], capture_output=True, text=True).stdout)
        top = subprocess.run(["docker", "exec", names[0], "id", "-u"], capture_output=True, text=True)
    finally:
        cancel.set()
        worker.join(timeout=60)
    host, config = info["HostConfig"], info["Config"]
    assert info["State"]["Running"]
    assert config["User"] == f"{container_user()[0]}:{container_user()[1]}" and not config["User"].startswith("0:")
    assert top.stdout.strip() == str(container_user()[0]) != "0", top
    assert host["ReadonlyRootfs"] is True
    assert "/tmp" in host["Tmpfs"]
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == PIDS_LIMIT
    assert host["NetworkMode"] == "none"
    assert host["Memory"] == 1024 * 2**20 and host["NanoCpus"] == 10**9
    assert leftover_containers(os.getpid()) == []
    log = (tmp_path / "staging" / "job.log").read_text()
    assert "rootfs read-only" in log and "ROOTFS WRITABLE" not in log


def test_prune_removes_only_images_this_checkout_built(engine):
    """On a shared engine, another checkout's (or a hand-made) fdinvest-<env> image is never touched."""
    env = Environment(f"prunetest{uuid.uuid4().hex[:6]}", ())
    repo = f"fdinvest-{env.name}"
    base = os.environ.get("ORCH_BASE_IMAGE", CI_BASE_IMAGE)

    def make(tag: str, checkout: str | None) -> str:
        labels = ["--label", f"{CHECKOUT_LABEL}={checkout}"] if checkout else []
        done = subprocess.run(
            ["docker", "build", "-q", *labels, "-t", f"{repo}:{tag}", "-"],
            input=f"FROM {base}\n",
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )
        assert done.returncode == 0, done.stderr
        return f"{repo}:{tag}"

    mine_old, mine_new = make("mine-old", checkout_id()), make("mine-new", checkout_id())
    others, unlabelled = make("other-checkout", "0123456789ab"), make("by-hand", None)
    try:
        ImageBuilder.prune(env, keep=mine_new)
        present = subprocess.run(
            ["docker", "image", "ls", repo, "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True
        ).stdout.split()
        assert mine_old not in present
        assert {mine_new, others, unlabelled} <= set(present)
    finally:
        subprocess.run(["docker", "image", "rm", mine_old, mine_new, others, unlabelled], capture_output=True)


def test_unobtainable_base_image_says_what_to_do(engine, orch_home, monkeypatch):
    """An engine but no registry: one line naming ORCH_BASE_IMAGE, `orch build` and --executor native."""
    monkeypatch.setenv("ORCH_BASE_IMAGE", f"fdinvest-no-such-base-{uuid.uuid4().hex[:6]}:1")
    result = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "docker"])
    assert result.exit_code == 2, result.output
    [line] = [text for text in result.output.splitlines() if text.startswith("Error:")]
    assert (
        "cannot be pulled" in line
        and "ORCH_BASE_IMAGE" in line
        and "`orch build`" in line
        and "--executor native" in line
    )
    assert "Traceback" not in result.output
    doctor = json.loads(CliRunner().invoke(cli, ["doctor", "--json"], catch_exceptions=False).output)
    [row] = [r for r in doctor if r["check"] == "docker executor"]
    assert not row["ok"] and "ORCH_BASE_IMAGE" in row["detail"]


def test_container_has_no_network(sklearn_image, sklearn_run, tmp_path, bundled_data):
    script = (
        "import socket, sys\n"
        "ifaces = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]\n"
        "print('interfaces', ifaces)\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\nexcept OSError as e:\n"
        "    sys.exit(0 if ifaces == ['lo'] else 5)\nsys.exit(6)\n"
    )
    outcome, _ = _execute(["python", "-c", script], sklearn_run(), tmp_path, bundled_data[0])
    assert outcome.ok, (outcome, (tmp_path / "staging" / "job.log").read_text())


def test_cancel_removes_the_container(sklearn_image, sklearn_run, tmp_path, bundled_data):
    cancel = threading.Event()
    threading.Timer(3, cancel.set).start()
    outcome, seconds = _execute(["sleep", "120"], sklearn_run(), tmp_path, bundled_data[0], cancel=cancel)
    assert outcome.interrupted and seconds < 30
    assert leftover_containers(os.getpid()) == []


def test_containers_of_a_dead_orch_process_are_swept(sklearn_image):
    from orchestrator.executors.docker import sweep_orphans

    name = f"orch-orphan-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        [
            "docker",
            "create",
            "--name",
            name,
            "--label",
            "fdinvest.orch=1",
            "--label",
            "fdinvest.orch.pid=4194303",
            sklearn_image.tag,
            "true",
        ],
        check=True,
        capture_output=True,
    )
    assert name in sweep_orphans()
    assert subprocess.run(["docker", "container", "inspect", name], capture_output=True).returncode != 0


def test_orch_run_executor_docker_end_to_end(sklearn_image, orch_home):
    result = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "docker"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [folder] = [p for p in orch_home["ORCH_RESULTS_DIR"].iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    stored = load_result(folder)
    assert stored.provenance.executor == "docker"
    assert stored.provenance.image_id == sklearn_image.image_id  # provenance, not identity
    assert (
        stored.provenance.env_fingerprint == f"lock-{lock_hash(ENVIRONMENTS['sklearn'].requirements.read_bytes())}"
        f":py{IMAGE_PYTHON}:{engine_platform()}"
    )
    tags = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.RepoTags}}", stored.provenance.image_id],
        capture_output=True,
        text=True,
    ).stdout
    assert "fdinvest-sklearn:" in tags
    assert (folder / "job.log").read_text().count("[job] done") == 1
    assert "executor: docker (--executor docker" in result.output  # says what runs where
    again = CliRunner().invoke(cli, ["plan", "logreg-h1", "--executor", "docker", "--json"], catch_exceptions=False)
    assert json.loads(again.output)[0]["action"] == "skip"


def _plan_action(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["plan", "logreg-h1", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)[0]


def test_native_and_docker_results_serve_each_other(sklearn_image, orch_home):
    """Same pins, same Python, same platform: one cache whichever executor ran the job."""
    assert ENVIRONMENTS["sklearn"].native_fingerprint() == DockerExecutor().fingerprint(ENVIRONMENTS["sklearn"])
    native = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "native"], catch_exceptions=False)
    assert native.exit_code == 0, native.output
    assert _plan_action("--executor", "docker")["action"] == "skip"
    assert _plan_action("--executor", "auto")["action"] == "skip"
    forced = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "docker", "--force"], catch_exceptions=False)
    assert forced.exit_code == 0, forced.output
    [folder] = [p for p in orch_home["ORCH_RESULTS_DIR"].iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    assert load_result(folder).provenance.executor == "docker"  # the same folder: the same run key
    assert _plan_action("--executor", "native")["action"] == "skip"


def test_plan_never_builds_an_image(engine, orch_home, monkeypatch):
    """`orch plan` is read-only: with inputs no image has been built for, it plans without building."""
    monkeypatch.setenv("ORCH_BASE_IMAGE", f"fdinvest-never-built-{uuid.uuid4().hex[:6]}:1")
    tag = image_tag(ENVIRONMENTS["sklearn"])
    planned = _plan_action("--executor", "docker")
    assert planned["action"] == "run" and planned["reason"] == "missing (never run)"
    assert subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0


def test_differing_python_is_explained_and_reusable_on_request(orch_home, monkeypatch):
    """A result from another Python (same pins) is not silently reused: the plan says why, and
    --reuse-across-executors takes it."""
    ran = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "native"], catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    monkeypatch.setattr("orchestrator.environments.python_version", lambda: "3.99")
    planned = _plan_action("--executor", "native")
    assert planned["action"] == "run"
    assert planned["reason"] == (
        f"environment changed (python {IMAGE_PYTHON} -> 3.99); same pins: --reuse-across-executors reuses it"
    )
    reused = _plan_action("--executor", "native", "--reuse-across-executors")
    assert reused["action"] == "skip" and "cached from a native run" in reused["reason"], reused


def test_sigint_to_orch_removes_its_containers(sklearn_image, orch_home):
    env = {**os.environ, **{k: str(v) for k, v in orch_home.items()}}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "run",
            "gboost-h1",
            "--executor",
            "docker",
            "--set",
            "max_iter=100000",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The container is running the job once its first line reaches the log; bounded, never reached when healthy.
    staging = orch_home["ORCH_RESULTS_DIR"] / ".staging"
    wait_for(
        lambda: any(JOB_STARTED in log.read_text() for log in staging.glob("*/job.log")),
        "the job to start",
        process=process,
    )
    assert leftover_containers(process.pid), "the job container never started"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=EVENT_TIMEOUT)
    assert process.returncode == 130, err
    assert leftover_containers(process.pid) == [], "containers left behind after Ctrl-C"


def _compose(orch_home) -> tuple[list[str], dict[str, str]]:
    project = f"orchtest{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **{k: str(v) for k, v in orch_home.items()}}
    return ["docker", "compose", "--project-directory", str(REPO), "-f", str(REPO / "compose.yaml"), "-p", project], env


def test_docker_compose_up_gives_the_orch_result_layout(sklearn_image, orch_home):
    """`docker compose up <service>` with no settings, whoever owns results/ (root in CI): the job
    runs as the images' non-root user, the result belongs to the owner of results/, and
    `orch run --executor docker` reuses it (one run key for both)."""
    base, env = _compose(orch_home)
    results = orch_home["ORCH_RESULTS_DIR"]
    results.mkdir()
    try:
        config = subprocess.run(base + ["config", "--format", "json"], env=env, capture_output=True, text=True)
        assert config.returncode == 0, config.stderr
        services = json.loads(config.stdout)["services"]
        assert services["timesfm-h1"]["platform"] == "linux/amd64"
        service = services["logreg-h1"]
        assert service["network_mode"] == "none" and service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert service["security_opt"] == ["no-new-privileges:true"] and service["pids_limit"] == PIDS_LIMIT
        up = subprocess.run(
            base + ["up", "--no-build", "--abort-on-container-exit", "--exit-code-from", "logreg-h1", "logreg-h1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    finally:
        subprocess.run(base + ["down", "--remove-orphans"], env=env, capture_output=True)
    [folder] = [p for p in orch_home["ORCH_RESULTS_DIR"].iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    assert folder.name.startswith("logreg-h1-s0-")
    assert {"result.json", "predictions.parquet", "job.log", "spec.json"} <= {p.name for p in folder.iterdir()}
    validate = CliRunner().invoke(cli, ["validate", str(folder)], catch_exceptions=False)
    assert validate.exit_code == 0 and validate.output.startswith("ok"), validate.output
    stored = json.loads((folder / RESULT_FILE).read_text())
    assert stored["provenance"]["executor"] == "compose"
    assert load_result(folder).spec == make_spec(BY_SLUG["logreg-h1"], _manifest(orch_home), "quick", 0)
    owner = (results.stat().st_uid, results.stat().st_gid)
    assert all((p.stat().st_uid, p.stat().st_gid) == owner for p in [folder, *folder.iterdir()])
    assert (results / ".staging").stat().st_uid == owner[0]
    assert (folder / "job.log").read_text().startswith("[compose] the job runs as uid 1000,")
    rerun = CliRunner().invoke(cli, ["run", "logreg-h1", "--executor", "docker"], catch_exceptions=False)
    assert rerun.exit_code == 0 and "1 cached" in rerun.output, rerun.output


def test_docker_compose_up_exits_non_zero_and_says_job_failed_once(sklearn_image, orch_home):
    data = orch_home["ORCH_DATA_DIR"]
    with open(data / "sp500.parquet", "ab") as parquet:
        parquet.write(b"tampered")  # the job refuses a dataset that does not match its manifest
    base, env = _compose(orch_home)
    try:
        up = subprocess.run(
            base + ["up", "--no-build", "--exit-code-from", "logreg-h1", "logreg-h1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        subprocess.run(base + ["down", "--remove-orphans"], env=env, capture_output=True)
    output = up.stdout + up.stderr
    assert up.returncode != 0, output
    assert output.count("job failed:") == 1 and "does not match its manifest" in output, output
    [failure] = list((orch_home["ORCH_RESULTS_DIR"] / "_failed").glob("*/failure.json"))
    assert json.loads(failure.read_text())["kind"] == "crash"


def _manifest(orch_home):
    from orchestrator.data.build import load_manifest

    return load_manifest(orch_home["ORCH_DATA_DIR"], "sp500")


def _suite_envs() -> list[str]:
    chosen = os.environ.get("ORCH_IMAGE_SUITES")
    names = chosen.split(",") if chosen else list(ENVIRONMENTS)
    return [n for n in names if (REPO / "tests" / "images" / n).is_dir()]


@pytest.mark.parametrize("env_name", _suite_envs())
def test_image_suite_passes_inside_its_image(engine, env_name):
    """`orch test-images <env>`: tests/images/<env>/ inside the built image (ORCH_IMAGE_SUITES=a,b narrows),
    and the image that ran it has the env's platform (timesfm: the one chosen for this engine); the
    test builds what it checks, so it does not depend on test order."""
    result = CliRunner().invoke(cli, ["test-images", env_name], catch_exceptions=False)
    assert result.exit_code == 0, result.output[-4000:]
    env = ENVIRONMENTS[env_name]
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", image_tag(env)],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == image_platform(env), done.stderr
    if env_name == "timesfm":  # chosen for this engine (tests/orchestrator/executors/test_platforms.py)
        assert image_platform(env) == platforms.decide(env).platform
