"""What `dp` starts listens on loopback only unless told otherwise (docs/SECURITY.md): a
worker's health server (`dp worker` without --health-host) and the UI (`dp ui` without
--host), with every server process they start (Dagster's code server, Celery).

Two checks per process tree: psutil lists every listening socket and each is on a loopback
address; and a connection to the port through 127.0.0.2 (also this host, but not the bound
127.0.0.1) is refused, which it would not be for a server bound to every interface (checked
on a HealthServer bound to 0.0.0.0)."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from dp_cli.health_server import HealthServer
from dp_resources.services.health import HealthReport
from tests.fixtures.celery_workers import start_process
from tests.fixtures.processes import free_port

pytestmark = pytest.mark.integration

DP = str(Path(sys.executable).with_name("dp"))
READY_S = 120.0


def listening(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket of `pid` and its descendants."""
    root = psutil.Process(pid)
    found = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            connections = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        found += [c.laddr[:2] for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def answers_on_another_local_address(port: int) -> bool:
    """Whether 127.0.0.2:port accepts a connection (only a server not bound to 127.0.0.1)."""
    try:
        with socket.create_connection(("127.0.0.2", port), timeout=2):
            return True
    except OSError:
        return False


def wait_for(url: str, proc, log: Path) -> None:
    deadline = time.monotonic() + READY_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{url} did not answer:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)


def assert_loopback_only(pid: int, port: int) -> None:
    sockets = listening(pid)
    assert port in {p for _, p in sockets}, sockets
    assert all(ipaddress.ip_address(host).is_loopback for host, _ in sockets), sockets
    assert not answers_on_another_local_address(port)


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DP_"))}
    return {**env, "DP_STORAGE": str(tmp_path / "store"), **values}


def test_the_check_sees_a_server_bound_to_every_interface():
    server = HealthServer(lambda: HealthReport([]), "0.0.0.0", 0).start()
    try:
        assert answers_on_another_local_address(server.port)
        sockets = listening(os.getpid())
        assert ("0.0.0.0", server.port) in sockets
    finally:
        server.stop()


def test_worker_health_binds_loopback_by_default(tmp_path, redis_server):
    port = free_port()
    env = clean_env(tmp_path, DP_CELERY_BROKER_URL=redis_server.url(5))
    command = [DP, "worker", "--queues", "cpu", "--health-port", str(port), "--concurrency", "1"]
    worker = start_process("worker", command, env, tmp_path)
    try:
        wait_for(f"http://127.0.0.1:{port}/health/live", worker.proc, worker.log)
        assert_loopback_only(worker.proc.pid, port)
    finally:
        worker.stop()


def test_dp_ui_binds_loopback_by_default(tmp_path):
    port = free_port()
    command = [DP, "ui", "--port", str(port)]
    ui = start_process("ui", command, clean_env(tmp_path), tmp_path)
    try:
        wait_for(f"http://127.0.0.1:{port}/server_info", ui.proc, ui.log)
        assert_loopback_only(ui.proc.pid, port)
    finally:
        ui.stop()
