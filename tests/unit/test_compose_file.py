"""docker-compose.yml is valid Compose (checked by the Compose CLI itself, no engine needed)
and holds what production needs; every variable it and dagster.prod.yaml read is documented
in .env.example, and no secret value is written in them. Secure by default (docs/SECURITY.md):
every published port is on loopback, and Redis (run here as the compose file runs it) refuses
clients without the password from .env.

CI needs a Compose CLI: `docker compose` (v2 plugin) or Debian's `docker-compose` (v1.29,
`apt-get install -y --no-install-recommends docker-compose`)."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from typing import get_args

import click
import pytest
import redis
import yaml

from dp_core.component_spec import Queue
from tests.fixtures.processes import free_port, stop_process

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
LOOPBACK = {"127.0.0.1", "::1", "[::1]"}


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.fail("no Compose CLI: apt-get install -y --no-install-recommends docker-compose")


def compose_config(
    compose_file: Path, env_file: Path, *overrides: Path
) -> subprocess.CompletedProcess:
    command = compose_command()
    files = [arg for path in (compose_file, *overrides) for arg in ("-f", str(path))]
    return subprocess.run(
        [*command, "--env-file", str(env_file), *files, "config"],
        capture_output=True,
        text=True,
        cwd=compose_file.parent,
    )


def example_vars() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key: value for key, value in pairs}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    result = compose_config(COMPOSE, ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def console_command(script: str) -> click.Command:
    """The click command behind an installed console script (`dp`, `dagster-daemon`, ...)."""
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts")}
    assert script in scripts, f"{script!r} is not a console script of the installed packages"
    target = scripts[script].load()
    if not isinstance(target, click.Command):  # a `main()` wrapper around its module's `cli`
        target = sys.modules[target.__module__].cli
    return target


def parse_command_line(argv: list[str]) -> dict:
    """The parameters `argv` gives its command, parsed as the installed CLI would parse them
    (sub-commands resolved, nothing run); `click.UsageError` when they do not parse."""
    command, name, args, parent = console_command(argv[0]), argv[0], list(argv[1:]), None
    while isinstance(command, click.Group):
        parent = click.Context(command, info_name=name, parent=parent)
        name, command, args = command.resolve_command(parent, args)
    return command.make_context(name, args, parent=parent).params


def is_ours(program: str) -> bool:
    return program == "dp" or program.startswith("dagster")


def dp_image_command_lines(rendered: dict) -> dict[str, list[list[str]]]:
    """Per service built from this repository: its command, and its healthcheck when that
    runs a `dp`/`dagster*` program (others, like curl, come from the Dockerfile)."""
    lines = {}
    for name, service in rendered["services"].items():
        if "build" not in service:
            continue
        found = [service["command"]] if service.get("command") else []
        test = service.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD"] and is_ours(test[1]):
            found.append(test[1:])
        lines[name] = found
    return lines


def workers(rendered: dict) -> dict[str, dict]:
    """`dp worker` services by name, with their parsed parameters."""
    return {
        name: parse_command_line(service["command"])
        for name, service in rendered["services"].items()
        if service.get("command", [])[:2] == ["dp", "worker"]
    }


def gpu_reserved(service: dict) -> bool:
    devices = service.get("deploy", {}).get("resources", {}).get("reservations", {})
    return any("gpu" in d.get("capabilities", []) for d in devices.get("devices", []))


def test_compose_config_passes_and_dependencies_exist(rendered):
    services = rendered["services"]
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name


def test_every_dp_image_command_is_an_installed_entry_point_that_parses(rendered, monkeypatch):
    monkeypatch.chdir(REPO)  # the image runs from the repository root (workspace.yaml)
    entry_points_used = set()
    for name, lines in dp_image_command_lines(rendered).items():
        assert lines, f"{name} runs the image's default command: name one"
        for argv in lines:
            assert is_ours(argv[0]), f"{name} runs {argv[0]!r}, not a dp or dagster program"
            try:
                params = parse_command_line(argv)
            except click.UsageError as exc:
                pytest.fail(f"{name}: {' '.join(argv)!r} does not parse: {exc.format_message()}")
            for workspace in params.get("workspace") or ():
                assert (REPO / workspace).is_file(), f"{name}: no {workspace} in the repository"
            entry_points_used.add(" ".join(argv[:2]))
    # what production needs: the UI, the daemon (sensors, run queue) and Celery workers
    assert {"dagster-daemon run", "dp worker"} <= entry_points_used
    assert any(used.startswith("dagster-webserver") for used in entry_points_used)


def test_long_running_services_have_healthchecks(rendered):
    for name, service in rendered["services"].items():
        if service.get("restart") != "no":  # one-shot jobs (bucket creation) need none
            assert "test" in service.get("healthcheck", {}), name


def test_every_queue_a_step_can_use_is_served_by_a_worker(rendered):
    served = {q for params in workers(rendered).values() for q in params["queues"].split(",")}
    assert set(get_args(Queue)) <= served


def test_gpu_workers_have_the_gpu_and_triton_cpu_workers_do_not(rendered):
    services = rendered["services"]
    for name, params in workers(rendered).items():
        gpu = "gpu" in params["queues"].split(",")
        assert gpu_reserved(services[name]) is gpu, name
        assert params["require_triton"] is gpu, name
        if gpu:
            triton = services[name]["depends_on"]["triton"]
            assert triton["condition"] == "service_healthy"
    # the model server itself runs on the GPU too
    assert gpu_reserved(services["triton"])
    assert services["triton"]["command"][0] == "tritonserver"


def test_every_variable_is_documented_and_no_secret_is_committed():
    documented = set(example_vars())
    proxy = REPO / "deploy" / "proxy" / "docker-compose.proxy.yml"
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text() + proxy.read_text()))
    prod_yaml = (REPO / "deploy" / "dagster.prod.yaml").read_text()
    used |= set(re.findall(r"\{env: ([A-Z0-9_]+)\}", prod_yaml))
    assert used - documented - {"DP_MODEL_REPOSITORY"} == set()
    secrets = [v for k, v in example_vars().items() if "PASSWORD" in k or "SECRET" in k]
    assert secrets and all(v.startswith("change-me") for v in secrets)
    for text in (COMPOSE.read_text(), prod_yaml, proxy.read_text()):
        assert not any(secret in text for secret in secrets)


def test_a_missing_secret_is_refused(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        "\n".join(f"{k}={v}" for k, v in example_vars().items() if k != "DAGSTER_PG_PASSWORD")
    )
    result = compose_config(COMPOSE, env)
    assert result.returncode != 0
    assert "DAGSTER_PG_PASSWORD" in result.stderr


def test_an_invalid_compose_file_is_refused(tmp_path):
    data = yaml.safe_load(COMPOSE.read_text())
    data["services"]["redis"]["healthcheck"]["retries"] = "many"  # must be an integer
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(data))
    result = compose_config(broken, ENV_EXAMPLE)
    assert result.returncode != 0, result.stdout


def published_ports(service: dict) -> list[tuple[str | None, str]]:
    """(host address, host port) of each port `service` publishes; address None: every
    interface. Reads both renderings: Compose v2's long syntax and v1's short strings
    ("127.0.0.1:3000:3000/tcp", "3000:3000", "3000")."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip") or None, str(port.get("published"))))
            continue
        parts = str(port).rsplit("/", 1)[0].rsplit(":", 2)
        host = parts[0] if len(parts) == 3 else None
        found.append((host or None, parts[-2] if len(parts) > 1 else "(any)"))
    return found


def exposed_beyond_host(rendered: dict) -> dict[str, list[str]]:
    """Services publishing a port on a non-loopback address, with those ports."""
    exposed = {}
    for name, service in rendered["services"].items():
        ports = [f"{h or '*'}:{p}" for h, p in published_ports(service) if h not in LOOPBACK]
        if ports:
            exposed[name] = ports
    return exposed


def test_every_published_port_is_on_loopback(rendered):
    assert exposed_beyond_host(rendered) == {}
    published = {name for name, s in rendered["services"].items() if published_ports(s)}
    assert {"dagster-webserver", "minio"} <= published  # the check is not vacuous


def test_a_port_published_on_every_interface_is_caught(tmp_path):
    data = yaml.safe_load(COMPOSE.read_text())
    data["services"]["dagster-webserver"]["ports"] = ["${DAGSTER_WEBSERVER_PORT:-3000}:3000"]
    data["services"]["minio"]["ports"] = ["0.0.0.0:9001:9001"]
    unsafe = tmp_path / "docker-compose.yml"
    unsafe.write_text(yaml.safe_dump(data))
    result = compose_config(unsafe, ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert set(exposed_beyond_host(yaml.safe_load(result.stdout))) == {"dagster-webserver", "minio"}


def unescape(text: str) -> str:
    """A rendered value as the container gets it (`config` writes a literal `$` as `$$`)."""
    return text.replace("$$", "$")


def test_redis_as_composed_refuses_clients_without_the_password(tmp_path):
    """Runs the redis service's own command and healthcheck (as rendered from a .env holding a
    fresh password) on a local redis-server: PING without the password is refused, the broker
    URL the workers get works, the healthcheck passes only with the password, and the password
    is not on redis-server's command line."""
    password = secrets.token_hex(16)
    env_file = tmp_path / ".env"
    values = {**example_vars(), "REDIS_PASSWORD": password}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    result = compose_config(COMPOSE, env_file)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    service = services["redis"]
    assert service["environment"]["REDIS_PASSWORD"] == password
    assert password not in " ".join(service["command"])  # read from the environment at start
    # the container's redis-server and redis-cli, on a free loopback port
    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    assert binary and cli, "apt-get install -y redis-server"
    port = free_port()
    shims = tmp_path / "bin"
    shims.mkdir()
    for name, line in (
        ("redis-server", f'exec {binary} "$@" --port {port} --bind 127.0.0.1 --dir {tmp_path}'),
        ("redis-cli", f'exec {cli} -h 127.0.0.1 -p {port} "$@"'),
    ):
        (shims / name).write_text(f"#!/bin/sh\n{line}\n")
        (shims / name).chmod(0o755)
    env = {"PATH": f"{shims}:/usr/bin:/bin", "REDIS_PASSWORD": password}
    proc = subprocess.Popen(
        [unescape(arg) for arg in service["command"]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        authorized = redis.Redis(port=port, password=password, socket_timeout=2)
        deadline = time.monotonic() + 15
        while True:
            try:
                assert authorized.ping()
                break
            except redis.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
                time.sleep(0.1)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, socket_timeout=2).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, password="change-me-redis", socket_timeout=2).ping()
        for name in ("DP_CELERY_BROKER_URL", "DP_CELERY_BACKEND_URL"):
            url = services["worker-cpu"]["environment"][name]
            assert url.startswith(f"redis://:{password}@redis:6379/"), name
            local = url.replace("@redis:6379/", f"@127.0.0.1:{port}/")
            assert redis.Redis.from_url(local, socket_timeout=2).ping(), name
        kind, check = service["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        ok = subprocess.run(["sh", "-c", unescape(check)], env=env, timeout=10)
        assert ok.returncode == 0
        wrong = {**env, "REDIS_PASSWORD": "change-me-redis"}
        assert subprocess.run(["sh", "-c", unescape(check)], env=wrong, timeout=10).returncode
        # /proc/PID/cmdline is readable by every user of the host
        assert password.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    finally:
        stop_process(proc)
