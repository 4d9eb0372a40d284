"""`orch doctor`: disks measured where the folders will live, Docker usable only with a base image."""

import json
import os

import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.executors.docker import engine_status

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
