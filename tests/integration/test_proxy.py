"""The remote-access example (deploy/proxy/): Caddy with basic auth in front of the Dagster
webserver. The override keeps every other port on loopback, Caddy itself validates the
Caddyfile and refuses the `change-me` placeholder, and a real Caddy started with that
Caddyfile answers 401 without the password and proxies with it.

CI needs Debian's `caddy` (scripts/test.sh installs it; nothing is started by the package)."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest
import yaml

from tests.fixtures.processes import free_port, stop_process
from tests.unit.test_compose_file import (
    COMPOSE,
    ENV_EXAMPLE,
    compose_config,
    exposed_beyond_host,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / "deploy" / "proxy"
CADDYFILE = PROXY / "Caddyfile"
OVERRIDE = PROXY / "docker-compose.proxy.yml"


def caddy() -> str:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.fail("caddy not found: apt-get install -y --no-install-recommends caddy")
    return binary


def caddy_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """Caddy's environment: its data and config folders under tmp_path, plus `values`."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **values,
    }


def hash_password(plaintext: str, tmp_path: Path) -> str:
    result = subprocess.run(
        [caddy(), "hash-password", "--plaintext", plaintext],
        capture_output=True,
        text=True,
        env=caddy_env(tmp_path),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def validate(tmp_path: Path, **values: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [caddy(), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=caddy_env(tmp_path, **values),
        timeout=60,
    )


def test_the_override_publishes_only_the_proxy_beyond_the_host():
    result = compose_config(COMPOSE, ENV_EXAMPLE, OVERRIDE)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(exposed_beyond_host(rendered)) == {"proxy"}
    proxy = rendered["services"]["proxy"]
    assert proxy["depends_on"]["dagster-webserver"]["condition"] == "service_healthy"
    assert "test" in proxy["healthcheck"]
    mounts = [str(v).split(":")[0] if isinstance(v, str) else v["source"] for v in proxy["volumes"]]
    assert str(CADDYFILE) in mounts


def test_caddy_validates_the_caddyfile_and_refuses_the_placeholder(tmp_path):
    values = {"DP_PUBLIC_HOST": "dp.example.org", "DP_UI_USER": "ops"}
    hashed = hash_password("a long passphrase", tmp_path)
    ok = validate(tmp_path, **values, DP_UI_PASSWORD_HASH=hashed)
    assert ok.returncode == 0, ok.stderr
    placeholder = validate(tmp_path, **values, DP_UI_PASSWORD_HASH="change-me")
    assert placeholder.returncode != 0
    assert "password" in placeholder.stderr


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"dagster ui stand-in"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:
        pass


def get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth:
        token = b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_proxy_asks_for_the_password_then_forwards(tmp_path):
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port, admin = free_port(), free_port()
    env = caddy_env(
        tmp_path,
        # plain HTTP on loopback for the test; production gets TLS for its public name
        DP_PUBLIC_HOST=f"http://127.0.0.1:{port}",
        DP_UI_USER="ops",
        DP_UI_PASSWORD_HASH=hash_password("the right one", tmp_path),
        DP_UI_UPSTREAM=f"127.0.0.1:{upstream.server_address[1]}",
        DP_PROXY_ADMIN=f"127.0.0.1:{admin}",
    )
    log = tmp_path / "caddy.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [caddy(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = get(url)
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert status == 401
        assert get(url, ("ops", "wrong"))[0] == 401
        assert get(url, ("ops", "the right one")) == (200, b"dagster ui stand-in")
    finally:
        stop_process(proc)
        upstream.shutdown()
        upstream.server_close()
