"""Health checks and the /health endpoints against real Redis and S3 (SeaweedFS), up and down."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from dp_cli.health_server import HealthServer, health_targets_from_env
from dp_core.errors import DpError
from dp_resources.services.health import HealthTargets, check_redis, check_storage, check_triton
from dp_resources.storage.s3 import S3Storage
from tests.fixtures.processes import free_port
from tests.fixtures.redis_server import start_redis
from tests.fixtures.triton_server import start_triton_server

pytestmark = pytest.mark.integration

pytest_plugins = ["tests.fixtures.redis_server"]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def unreachable_storage(s3_server) -> S3Storage:
    """S3 storage at a loopback port nobody listens on."""
    return S3Storage.from_url(
        "s3://nowhere/store",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
    )


def test_checks_pass_with_services_up(redis_server, s3_storage):
    assert check_redis(redis_server.url()).ok
    result = check_storage(s3_storage)
    assert result.ok, result.detail
    assert list(s3_storage.list("_health")) == []  # read-only: the probe wrote nothing


def test_checks_name_what_is_down(tmp_path, s3_storage, unreachable_storage, s3_server):
    stopped = start_redis(tmp_path / "redis")
    stopped.stop()
    redis_down = check_redis(stopped.url())
    assert (redis_down.part, redis_down.ok) == ("redis", False)
    assert "Connection" in redis_down.detail
    storage_down = check_storage(unreachable_storage)
    assert (storage_down.part, storage_down.ok) == ("storage", False)
    assert "STORAGE_ERROR" in storage_down.detail
    wrong_keys = S3Storage.from_url(
        s3_storage.base, endpoint_url=s3_server.endpoint_url, access_key="x", secret_key="y"
    )
    assert not check_storage(wrong_keys).ok
    for protocol in ("grpc", "http"):
        triton_down = check_triton(f"127.0.0.1:{free_port()}", protocol, timeout_s=1.0)
        assert (triton_down.part, triton_down.ok) == ("triton", False)


def test_triton_up_then_stopped(tmp_path):
    (tmp_path / "repository").mkdir()
    (tmp_path / "logs").mkdir()
    server = start_triton_server(tmp_path / "repository", tmp_path / "logs")
    try:
        for protocol in ("grpc", "http"):
            result = check_triton(server.url(protocol), protocol)
            assert (result.part, result.ok) == ("triton", True), result.detail
    finally:
        server.stop()
    assert not check_triton(server.grpc_url, "grpc", timeout_s=1.0).ok


def test_endpoints_answer_200_then_503_naming_the_failing_part(tmp_path, s3_storage):
    redis = start_redis(tmp_path / "redis")
    targets = HealthTargets(redis_url=redis.url(), storage=s3_storage)
    server = HealthServer(targets.run, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        code, body = get(f"{base}/health")
        assert code == 200, body
        assert body["status"] == "ok" and body["failing"] == []
        assert [c["part"] for c in body["checks"]] == ["redis", "storage"]
        # no host, port or path is revealed to whoever reaches the port
        shown = json.dumps(body) + json.dumps(get(f"{base}/health/live")[1])
        for secret in ("127.0.0.1", str(redis.port), s3_storage.base, "pid"):
            assert secret not in shown, secret

        redis.stop()
        code, body = get(f"{base}/health")
        assert code == 503
        assert body["failing"] == ["redis"]
        assert "127.0.0.1" not in json.dumps(body)
        assert get(f"{base}/health/live")[0] == 200  # alive, only not ready

        with_triton = HealthTargets(redis.url(), s3_storage, f"127.0.0.1:{free_port()}")
        assert with_triton.run().failing == ["redis", "triton"]
        assert get(f"{base}/nope")[0] == 404
    finally:
        server.stop()
        redis.stop()


def test_a_worker_checks_triton_when_its_profile_serves_models_there(tmp_path, monkeypatch):
    monkeypatch.setenv("DP_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("DP_STORAGE", str(tmp_path / "store"))
    monkeypatch.delenv("DP_TRITON_URL", raising=False)
    monkeypatch.setenv("DP_PROFILE", "cpu_baseline")
    assert health_targets_from_env(require_triton=False).triton_url is None
    monkeypatch.setenv("DP_PROFILE", "gpu_triton")
    with pytest.raises(DpError, match=r"gpu_triton .*needs DP_TRITON_URL"):
        health_targets_from_env(require_triton=False)
    monkeypatch.setenv("DP_TRITON_URL", "triton:8001")
    targets = health_targets_from_env(require_triton=False)
    assert (targets.triton_url, targets.triton_protocol) == ("triton:8001", "grpc")
