"""Which Dagster executor runs the process job (dp_assets/execution.py)."""

import pytest

from dp_assets.execution import default_executor, executor_from_env, multiprocess_config
from dp_core.errors import DpError

pytestmark = pytest.mark.unit


def test_parallel_steps_by_default_from_four_cores_or_when_the_profile_asks():
    assert default_executor(None, cores=8) == "multiprocess"
    assert default_executor(None, cores=4) == "multiprocess"
    assert default_executor(None, cores=2) == "in_process"
    assert default_executor(2, cores=2) == "multiprocess"
    assert default_executor(1, cores=16) == "in_process"


@pytest.mark.parametrize(
    ("kind", "name"),
    [("multiprocess", "multiprocess"), ("in_process", "in_process")],
)
def test_dp_executor_names_a_public_executor(kind, name):
    assert executor_from_env({"DP_EXECUTOR": kind}).name == name


def test_the_multiprocess_executor_forks_from_a_preloading_forkserver():
    config = multiprocess_config(3)
    assert config["max_concurrent"] == 3
    assert config["start_method"]["forkserver"]["preload_modules"] == ["dp_assets.step_preload"]


def test_an_unknown_executor_or_celery_without_a_broker_is_a_config_error():
    with pytest.raises(DpError, match="expected one of"):
        executor_from_env({"DP_EXECUTOR": "threads"})
    with pytest.raises(DpError, match="DP_CELERY_BROKER_URL"):
        executor_from_env({"DP_EXECUTOR": "celery"})
