"""A worker's health endpoints (stdlib HTTP), and `dp worker`: health server + Celery worker.

- `GET /health/live`: 200 while the process serves requests (liveness: restart me if not).
- `GET /health`: 200 when Redis, storage (and Triton when required) all answer, else 503;
  the JSON body names the failing parts (readiness).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dp_resources.services.health import HealthReport


class HealthServer:
    """Serves `/health` and `/health/live` in a background thread."""

    def __init__(self, run_checks: Callable[[], HealthReport], host: str, port: int):
        checks = run_checks

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].rstrip("/")
                if path == "/health/live":
                    self._send(200, {"status": "alive"})
                elif path == "/health":
                    report = checks()
                    self._send(200 if report.ok else 503, report.as_json())
                else:
                    self._send(404, {"error": f"no endpoint {path!r}; try /health"})

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args) -> None:
                pass  # probes every few seconds would flood the worker's log

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def health_targets_from_env(require_triton: bool):
    """Redis from DP_CELERY_BROKER_URL, storage from DP_STORAGE (+ DP_S3_*), Triton from
    DP_TRITON_URL when `require_triton` or when the profile (DP_PROFILE) serves a component
    on Triton."""
    from dp_assets.components import load_profile
    from dp_assets.definitions import Settings
    from dp_assets.execution import celery_worker_config
    from dp_core.errors import DpError, ErrorCode
    from dp_resources.services.health import HealthTargets
    from dp_resources.storage.backends import open_storage

    settings = Settings.from_env()
    components = load_profile(settings.profile).components.values()
    require_triton = require_triton or any(spec.runtime == "triton" for spec in components)
    triton_url = os.environ.get("DP_TRITON_URL") if require_triton else None
    if require_triton and not triton_url:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"profile {settings.profile} (or --require-triton) needs DP_TRITON_URL (host:port)",
        )
    return HealthTargets(
        redis_url=celery_worker_config()["broker"],
        storage=open_storage(settings.storage_base),
        triton_url=triton_url,
        triton_protocol=os.environ.get("DP_TRITON_PROTOCOL", "grpc"),
    )


def write_celery_config(folder: Path) -> Path:
    """Write the `dagster_celery_config` module that `dagster_celery.app` reads on import:
    the broker and result backend from this process's environment, never from a file."""
    from dp_assets.execution import celery_worker_config

    config = celery_worker_config()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster_celery_config.py").write_text(
        f"broker_url = {config['broker']!r}\n"
        f"result_backend = {config['backend']!r}\n"
        # A worker killed mid-step must not leave the task "running" forever: the step is
        # reported failed (WorkerLostError) and the run fails with the step named.
        "task_acks_late = False\n"
        "worker_prefetch_multiplier = 1\n"
    )
    return folder


def run_worker(
    queues: list[str],
    name: str,
    health_host: str,
    health_port: int,
    require_triton: bool,
    concurrency: int | None,
) -> None:
    """Serve the health endpoints in a thread, then run a dagster-celery worker on `queues`
    in this process (so this pid is the Celery main process: SIGTERM = warm shutdown)."""
    targets = health_targets_from_env(require_triton)
    server = HealthServer(targets.run, health_host, health_port).start()
    config_dir = write_celery_config(Path(tempfile.mkdtemp(prefix="dp-worker-")))
    sys.path.insert(0, str(config_dir))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(config_dir), os.environ.get("PYTHONPATH")])
    )
    print(f"health on http://{health_host}:{server.port}/health; worker {name} on {queues}")
    sys.stdout.flush()
    from dagster_celery.app import app

    argv = ["worker", "--prefetch-multiplier=1", "--loglevel", "INFO"]
    argv += ["-Q", ",".join(queues), "-n", name]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    try:
        app.worker_main(argv)
    finally:
        server.stop()
