"""Shared test setup: fixture modules, and no unexpected ERROR-level log records."""

import logging
import warnings

import pytest

pytest_plugins = [
    "tests.fixtures.media",
    "tests.fixtures.s3_server",
    "tests.fixtures.dagster_home",
    "tests.fixtures.pyannote_sample",
    "tests.fixtures.postgres_server",
    "tests.fixtures.redis_server",
    "tests.fixtures.celery_workers",
    "tests.fixtures.triton_server",
    "tests.fixtures.three_shots",  # one processed three-shot clip: report and export tests
]

warnings.filterwarnings("ignore", message=".*is currently in beta.*")


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_error_logs: the test expects ERROR-level log records")


@pytest.fixture(autouse=True)
def _fail_on_error_logs(request, caplog):
    """STYLE: fail any test that logs at ERROR level without expecting it."""
    caplog.set_level(logging.WARNING)
    yield
    if request.node.get_closest_marker("allow_error_logs"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail(f"unexpected ERROR log records: {[r.getMessage()[:200] for r in errors]}")
