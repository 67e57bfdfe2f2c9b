"""docker-compose.yml is valid Compose (checked by the Compose CLI itself, no engine needed)
and holds what production needs; every variable it and dagster.prod.yaml read is documented
in .env.example, and no secret value is written in them.

CI needs a Compose CLI: `docker compose` (v2 plugin) or Debian's `docker-compose` (v1.29,
`apt-get install -y --no-install-recommends docker-compose`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import get_args

import click
import pytest
import yaml

from dp_core.component_spec import Queue

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"


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


def compose_config(compose_file: Path, env_file: Path) -> subprocess.CompletedProcess:
    command = compose_command()
    return subprocess.run(
        [*command, "--env-file", str(env_file), "-f", str(compose_file), "config"],
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
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    prod_yaml = (REPO / "deploy" / "dagster.prod.yaml").read_text()
    used |= set(re.findall(r"\{env: ([A-Z0-9_]+)\}", prod_yaml))
    assert used - documented - {"DP_MODEL_REPOSITORY"} == set()
    secrets = [v for k, v in example_vars().items() if "PASSWORD" in k or "SECRET" in k]
    assert secrets and all(v.startswith("change-me") for v in secrets)
    for text in (COMPOSE.read_text(), prod_yaml):
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
