"""Where steps run: the executor (in-process by default, Celery in production). Each
component step's Celery queue and pool come from its spec and profile (dp_assets/factory.py).

Environment (see `.env.example`):
- `DP_EXECUTOR`: `in_process` (default: `dp process`, `dagster dev`) or `celery`.
- `DP_CELERY_BROKER_URL`, `DP_CELERY_BACKEND_URL` (default: the broker): Redis URLs, read
  by the run worker and by every Celery worker from its own environment (never stored in
  run config: the config only names the variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import ExecutorDefinition, in_process_executor
from dagster_celery import celery_executor

from dp_core.errors import DpError, ErrorCode

CPU_QUEUE = "cpu"  # the default queue: steps without a queue tag (e.g. asset checks)
EXECUTORS = ("in_process", "celery")
BROKER_ENV = "DP_CELERY_BROKER_URL"
BACKEND_ENV = "DP_CELERY_BACKEND_URL"


def executor_from_env(env: Mapping[str, str] | None = None) -> ExecutorDefinition:
    """The process job's executor, chosen by `DP_EXECUTOR`."""
    env = os.environ if env is None else env
    kind = env.get("DP_EXECUTOR", "in_process") or "in_process"
    if kind == "in_process":
        return in_process_executor
    if kind != "celery":
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"DP_EXECUTOR={kind!r}: expected one of {', '.join(EXECUTORS)}",
        )
    if not env.get(BROKER_ENV):
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"DP_EXECUTOR=celery needs {BROKER_ENV} (e.g. redis://redis:6379/0)",
        )
    backend = {"env": BACKEND_ENV} if env.get(BACKEND_ENV) else {"env": BROKER_ENV}
    return celery_executor.configured(
        {
            "broker": {"env": BROKER_ENV},
            "backend": backend,
            # Steps without a queue tag (asset checks) go to the cpu workers, not to
            # dagster-celery's default `dagster` queue, which no worker here listens on.
            "config_source": {"task_default_queue": CPU_QUEUE},
        },
        name="celery_executor",
    )


def celery_worker_config(env: Mapping[str, str] | None = None) -> dict:
    """The config file a `dagster-celery worker` reads: the same broker/backend as the
    executor, resolved from this process's environment."""
    env = os.environ if env is None else env
    broker = env.get(BROKER_ENV)
    if not broker:
        raise DpError(
            ErrorCode.CONFIG_INVALID, f"a worker needs {BROKER_ENV} (redis://host:6379/0)"
        )
    return {"broker": broker, "backend": env.get(BACKEND_ENV) or broker}
