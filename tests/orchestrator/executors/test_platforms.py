"""The timesfm image's platform is chosen per Docker engine (orchestrator/executors/platforms.py):
linux/amd64 where the engine's amd64 containers have AVX (the pinned jaxlib's x86 wheel needs it),
else linux/arm64; ORCH_TIMESFM_PLATFORM wins, and an amd64 choice on an engine without AVX is
refused before any work. The probe's answer is injected (as the engine's cached answer) to stand in
for other engines; the probe itself is checked on this engine and under qemu's Westmere CPU (no
AVX: the CPU on which the issue reproduced jaxlib's refusal)."""

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.environments import ENVIRONMENTS, TIMESFM_PLATFORM
from orchestrator.errors import UserError
from orchestrator.executors import platforms
from orchestrator.executors.docker import DockerExecutor
from orchestrator.executors.engine import engine_status
from orchestrator.executors.images import docker_build_argv, inputs_hash
from orchestrator.paths import CODE_ROOT

TIMESFM = ENVIRONMENTS["timesfm"]
AMD64 = "linux/amd64"


@pytest.fixture
def engine_cache(tmp_path, monkeypatch):
    """A fresh probe cache, and a compose folder of our own (the checkout's .env is left alone)."""
    monkeypatch.setenv("ORCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ORCH_TIMESFM_PLATFORM", raising=False)
    compose = tmp_path / "compose-project"
    compose.mkdir()
    shutil.copy(CODE_ROOT / "compose.yaml", compose / "compose.yaml")
    monkeypatch.setattr(platforms, "compose_env_file", lambda: compose / ".env")
    platforms._cached_probe.cache_clear()
    yield compose
    platforms._cached_probe.cache_clear()


def platform_argument(command: list[str]) -> str | None:
    return command[command.index("--platform") + 1] if "--platform" in command else None


def test_an_engine_whose_amd64_containers_have_avx_gets_the_amd64_image(engine_cache):
    platforms.record_probe(AMD64, ("avx", "avx2", "fma"), "injected: an x86-64 engine")
    decision = platforms.decide(TIMESFM)
    assert decision.platform == AMD64 and "containers have avx" in decision.reason
    assert platform_argument(docker_build_argv(TIMESFM, ["x"])) == AMD64
    assert "timesfm image linux/amd64" in DockerExecutor().describe(TIMESFM)
    assert not (engine_cache / ".env").exists()  # compose.yaml's own default is right here
    assert platform_argument(docker_build_argv(ENVIRONMENTS["sklearn"], ["x"])) is None


def test_an_engine_without_avx_gets_the_arm64_image_and_run_keys_follow(engine_cache):
    platforms.record_probe(AMD64, ("avx",), "injected")
    amd64_fingerprint, amd64_inputs = DockerExecutor().fingerprint(TIMESFM), inputs_hash(TIMESFM)
    platforms.record_probe(AMD64, ("sse4_2",), "injected: Rosetta reports no AVX")
    decision = platforms.decide(TIMESFM)
    assert decision.platform == "linux/arm64"
    assert "linux/amd64 containers lack avx (e.g. Rosetta)" in decision.reason
    assert "ORCH_TIMESFM_PLATFORM overrides" in decision.reason
    assert platform_argument(docker_build_argv(TIMESFM, ["x"])) == "linux/arm64"
    described = DockerExecutor().describe(TIMESFM)
    assert described.startswith("timesfm image linux/arm64 (") and "lack avx" in described
    arm64_fingerprint = DockerExecutor().fingerprint(TIMESFM)
    assert (
        arm64_fingerprint != amd64_fingerprint
        and arm64_fingerprint == TIMESFM.identity("3.11", "linux/arm64").fingerprint
    )
    assert inputs_hash(TIMESFM) != amd64_inputs  # another image tag: both images can coexist


def test_the_choice_reaches_docker_compose_through_its_env_file(engine_cache):
    env_file = engine_cache / ".env"
    env_file.write_text("ORCH_DATA_DIR=/somewhere\n")  # a user's own setting stays
    platforms.record_probe(AMD64, (), "injected: no AVX")
    platforms.decide(TIMESFM)
    lines = env_file.read_text().splitlines()
    assert lines[0] == "ORCH_DATA_DIR=/somewhere" and lines[-1] == "ORCH_TIMESFM_PLATFORM=linux/arm64"
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        config = subprocess.run(
            ["docker", "compose", "--project-directory", str(engine_cache), "config", "--format", "json"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(engine_cache)},
        )
        assert config.returncode == 0, config.stderr
        assert json.loads(config.stdout)["services"]["timesfm-h1"]["platform"] == "linux/arm64"
    platforms.record_probe(AMD64, ("avx",), "injected: the engine now has AVX")
    platforms.decide(TIMESFM)
    assert env_file.read_text() == "ORCH_DATA_DIR=/somewhere\n"  # back to compose.yaml's default


def test_the_override_wins_but_amd64_without_avx_is_refused_naming_the_switch(engine_cache, monkeypatch):
    platforms.record_probe(AMD64, ("avx",), "injected")
    monkeypatch.setenv("ORCH_TIMESFM_PLATFORM", "linux/arm64")
    assert platforms.decide(TIMESFM) == platforms.PlatformDecision("linux/arm64", "set by ORCH_TIMESFM_PLATFORM")
    platforms.record_probe(AMD64, (), "injected: no AVX")
    monkeypatch.setenv("ORCH_TIMESFM_PLATFORM", AMD64)
    with pytest.raises(UserError) as refused:
        platforms.decide(TIMESFM)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("ORCH_TIMESFM_PLATFORM=linux/amd64: this Docker engine's")
    assert "lack avx" in message and "set ORCH_TIMESFM_PLATFORM=linux/arm64" in message


def test_orch_plan_refuses_an_amd64_timesfm_without_avx_before_any_work(engine_cache, orch_home, monkeypatch):
    if not engine_status()[0]:
        pytest.skip("no Docker engine: --executor docker cannot be chosen")
    monkeypatch.setenv("ORCH_CACHE_DIR", str(engine_cache.parent / "cache"))  # orch_home set the session's
    platforms.record_probe(AMD64, (), "injected: no AVX")
    monkeypatch.setenv("ORCH_TIMESFM_PLATFORM", AMD64)
    result = CliRunner().invoke(cli, ["plan", "timesfm-h1", "--executor", "docker"])
    assert result.exit_code == 2, result.output
    assert "ORCH_TIMESFM_PLATFORM=linux/amd64: this Docker engine's linux/amd64 containers lack avx" in result.output


def test_a_rule_without_its_flags_falls_back(engine_cache):
    rule = TIMESFM_PLATFORM
    assert platforms.missing_flags(rule, platforms.CpuProbe(AMD64, ("fma",), "x")) == ["avx"]
    assert platforms.missing_flags(rule, platforms.CpuProbe(AMD64, None, "could not run")) == []


def test_the_probe_reads_this_engines_amd64_cpu(engine_cache, monkeypatch):
    if not engine_status()[0] or platforms.engine_key() == "no-engine":
        pytest.skip("no Docker engine to probe")
    monkeypatch.setenv("ORCH_BASE_IMAGE", "fdinvest-base:bookworm-py311")
    probe = platforms.probe_cpu(AMD64)
    assert probe.flags is not None, probe.detail
    with open("/proc/cpuinfo") as cpuinfo:  # a native amd64 engine: its containers see the host's CPU
        assert ("avx" in probe.flags) == ("avx" in cpuinfo.read().split())
    assert platforms.probe_file(AMD64).is_file()  # cached: the next orch does not run a container


@pytest.mark.skipif(not shutil.which("qemu-x86_64-static"), reason="needs qemu-user-static (qemu-x86_64-static)")
@pytest.mark.parametrize(("cpu", "avx"), [("Westmere", False), ("SandyBridge", True)])
def test_the_probe_script_sees_what_an_emulated_cpu_offers(cpu, avx):
    """qemu-user with -cpu Westmere is where the issue reproduced jaxlib's refusal (no AVX)."""
    done = subprocess.run(
        ["qemu-x86_64-static", "-cpu", cpu, sys.executable, "-c", platforms.PROBE_SCRIPT],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert ("avx" in json.loads(done.stdout)["flags"]) == avx
