"""`orch doctor`: disks measured where the folders will live, Docker usable only with a base image."""

import json
import os
import platform
import sys

import pytest
from click.testing import CliRunner

from jobs.common.device import torch_unavailable
from jobs.torch_models import selfcheck
from jobs.torch_models.zoo import ARCHITECTURES
from orchestrator.cli import cli
from orchestrator.executors.engine import engine_status
from tests.images.device_audit import DeviceAudit


def torch_available_devices() -> set[str]:
    return {"cuda", "mps", "cpu"} - set(torch_unavailable())


CI_BASE_IMAGE = "fdinvest-base:bookworm-py311"


def doctor_rows(monkeypatch, **env) -> dict[str, dict]:
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    result = CliRunner().invoke(cli, ["doctor", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {row["check"]: row for row in json.loads(result.output)}


def test_cache_disk_not_created_yet_is_measured_at_its_nearest_existing_parent(monkeypatch, tmp_path):
    rows = doctor_rows(monkeypatch, ORCH_CACHE_DIR=tmp_path / "cache" / "orch", ORCH_RESULTS_DIR=tmp_path)
    assert rows["cache disk"]["detail"].endswith(
        f"free at {tmp_path} (nearest existing parent of {tmp_path / 'cache' / 'orch'}, not created yet)"
    )
    assert rows["results disk"]["detail"].endswith(f"free at {tmp_path}")


def test_docker_is_not_usable_without_a_base_image(monkeypatch):
    rows = doctor_rows(monkeypatch, ORCH_BASE_IMAGE="fdinvest-no-such-base:never")
    docker = rows["docker executor"]
    assert docker["ok"] is False
    if engine_status()[0]:  # with an engine, the reason is the base image (without one, the engine)
        assert "base image fdinvest-no-such-base:never is not here and cannot be pulled" in docker["detail"]
        assert "ORCH_BASE_IMAGE" in docker["detail"] and "--executor native" in docker["detail"]


def test_docker_is_usable_with_a_local_base_image(monkeypatch):
    if os.environ.get("ORCH_SKIP_DOCKER") == "1":
        pytest.skip("ORCH_SKIP_DOCKER=1: Docker tests NOT run")
    rows = doctor_rows(monkeypatch, ORCH_BASE_IMAGE=CI_BASE_IMAGE)
    assert rows["docker executor"]["ok"] is True, rows["docker executor"]
    assert f"base image {CI_BASE_IMAGE} present" in rows["docker executor"]["detail"]


# -- orch doctor --mac: the self-check, exercised here CPU against CPU and on the meta device -------
def mac_check(tmp_path, *args) -> dict:
    out = tmp_path / "mac.json"
    result = CliRunner().invoke(
        cli, ["doctor", "--mac", "--python", sys.executable, "--out", str(out), *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_mac_self_check_writes_a_report_to_attach_to_an_issue(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_CACHE_DIR", str(tmp_path / "cache"))
    report = mac_check(tmp_path, "--device", "meta")
    checks = {row["check"]: row for row in report["checks"]}
    if platform.system() != "Darwin":
        assert checks["macOS >= 14"] == {
            "check": "macOS >= 14",
            "ok": False,
            "detail": f"not macOS ({platform.system()})",
        }
    assert "timesfm image platform" in checks
    assert set(report["device_self_check"]["models"]) == set(ARCHITECTURES)
    assert checks["fedformer on meta vs cpu"]["detail"] == "code path only (no data on meta)"
    assert report["machine"]["machine"] == platform.machine()


def test_mac_self_check_reports_a_device_it_cannot_use_in_one_line(tmp_path, monkeypatch):
    if torch_available_devices() >= {"cuda"}:
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("ORCH_CACHE_DIR", str(tmp_path / "cache"))
    report = mac_check(tmp_path, "--device", "cuda")
    row = report["checks"][-1]
    assert row["check"] == "torch models on cuda vs cpu" and row["ok"] is False
    assert row["detail"] == "device 'cuda' was requested but cannot be used here: torch sees no CUDA device"
    assert report["device_self_check"] is None


def test_self_check_finds_no_difference_between_the_cpu_and_itself():
    report = selfcheck.run("cpu", ["fedformer", "patchtst"])
    for row in report["models"].values():
        assert row["logits"] == 0.0 and row["gradients"] == 0.0 and row["ok"] is True
        assert row["fused_adamw_update"] <= selfcheck.TOLERANCE  # fused and plain AdamW kernels on the CPU
    assert report["all_ok"] is True and report["fused_adamw_within_tolerance"] is True


def test_self_check_puts_no_float64_on_the_device():
    with DeviceAudit() as audit:
        report = selfcheck.run("meta", sorted(ARCHITECTURES))
    assert report["all_ok"] is None and {"aten.mm", "aten.addmm"} & audit.ops


def test_relative_difference_is_scaled_by_the_reference():
    import torch

    assert selfcheck.relative_difference([torch.tensor([2.0, 4.5])], [torch.tensor([2.0, 4.0])]) == 0.125
