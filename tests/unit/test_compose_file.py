"""docker-compose.yml is valid Compose (checked by the Compose CLI itself, no engine needed)
and holds what production needs; every variable it and dagster.prod.yaml read is documented
in .env.example, and no secret value is written in them.

CI needs a Compose CLI: `docker compose` (v2 plugin) or Debian's `docker-compose` (v1.29,
`apt-get install -y --no-install-recommends docker-compose`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
SERVICES = {
    "postgres",
    "redis",
    "minio",
    "minio-init",
    "triton",
    "dagster-webserver",
    "dagster-daemon",
    "worker-cpu",
    "worker-gpu",
}


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


def test_compose_config_passes_and_has_every_service(rendered):
    assert set(rendered["services"]) == SERVICES


def test_long_running_services_have_healthchecks(rendered):
    for name, service in rendered["services"].items():
        if name != "minio-init":
            assert "test" in service.get("healthcheck", {}), name


def test_gpu_reserved_for_triton_and_the_gpu_worker(rendered):
    for name in ("triton", "worker-gpu"):
        devices = rendered["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"], name
    assert "deploy" not in rendered["services"]["worker-cpu"]
    assert "--require-triton" in rendered["services"]["worker-gpu"]["command"]


def test_workers_serve_their_queues(rendered):
    assert rendered["services"]["worker-cpu"]["command"][:4] == ["dp", "worker", "--queues", "cpu"]
    assert rendered["services"]["worker-gpu"]["command"][:4] == ["dp", "worker", "--queues", "gpu"]


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
