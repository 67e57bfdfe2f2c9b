"""Health checks of the services a worker needs: Redis (the Celery broker), the storage,
and Triton (only when the worker's profile serves models through it).

Each check returns a `CheckResult` naming its part; a failure says what failed and where,
never raises. Every check is bounded in time (seconds given per check).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from dp_resources.storage.backends import Storage


@dataclass(frozen=True)
class CheckResult:
    part: str  # "redis", "storage", "triton"
    ok: bool
    detail: str  # what was checked, or why it failed
    duration_ms: float

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class HealthReport:
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failing(self) -> list[str]:
        return [c.part for c in self.checks if not c.ok]

    def as_json(self) -> dict:
        return {
            "status": "ok" if self.ok else "failing",
            "failing": self.failing,
            "checks": [c.as_json() for c in self.checks],
        }


def _timed(part: str, probe: Callable[[], str]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail, ok = probe(), True
    except Exception as exc:  # a health check reports every failure, whatever its type
        # the error's kind only: messages name hosts, ports and paths, and health answers
        # whoever can reach the port (the worker's own log has the full message)
        code = getattr(getattr(exc, "code", None), "value", None)
        detail, ok = f"{type(exc).__name__}" + (f" [{code}]" if code else ""), False
    return CheckResult(part, ok, detail, round((time.perf_counter() - started) * 1000.0, 1))


def check_redis(url: str, timeout_s: float = 2.0) -> CheckResult:
    """PING the Redis at `url` (redis://host:port/db)."""
    import redis

    def probe() -> str:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        try:
            if not client.ping():
                raise ConnectionError("PING got no PONG")
        finally:
            client.close()
        return "PING ok"

    return _timed("redis", probe)


def check_storage(storage: Storage) -> CheckResult:
    """One read-only request (a HEAD on the bucket, or the folder's stat): a probe every
    few seconds must not write, and must not cost four S3 requests."""

    def probe() -> str:
        storage.check_reachable()
        return "reachable"

    return _timed("storage", probe)


def check_triton(url: str, protocol: str = "grpc", timeout_s: float = 2.0) -> CheckResult:
    """Triton at host:port (its gRPC or HTTP endpoint, as the workers reach it) answers
    live and ready."""

    def probe() -> str:
        if protocol == "grpc":
            import tritonclient.grpc as triton

            client = triton.InferenceServerClient(url=url)
        else:
            import tritonclient.http as triton

            client = triton.InferenceServerClient(
                url=url, connection_timeout=timeout_s, network_timeout=timeout_s
            )
        try:
            if not client.is_server_live():
                raise ConnectionError(f"Triton at {url} is not live")
            if not client.is_server_ready():
                raise ConnectionError(f"Triton at {url} is live but not ready")
        finally:
            client.close()
        return "live and ready"

    return _timed("triton", probe)


@dataclass(frozen=True)
class HealthTargets:
    """What a worker checks. Triton only when its profile serves a model through it."""

    redis_url: str
    storage: Storage
    triton_url: str | None = None
    triton_protocol: str = "grpc"

    def run(self) -> HealthReport:
        checks = [check_redis(self.redis_url), check_storage(self.storage)]
        if self.triton_url:
            checks.append(check_triton(self.triton_url, self.triton_protocol))
        return HealthReport(checks)
