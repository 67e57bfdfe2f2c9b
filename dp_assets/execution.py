"""Where steps run: Dagster's executors, chosen by `DP_EXECUTOR` (see `.env.example`):

- `multiprocess`: Dagster's `multiprocess_executor`: independent steps at once, up to the
  profile's `batching.steps_at_once` (default: the machine's cores), each in its own process
  forked from a forkserver that imported dp once (`dp_assets/step_preload.py`);
- `in_process`: Dagster's `in_process_executor`, one step at a time in the run's process;
- unset: `multiprocess` where steps may run `PARALLEL_FROM_STEPS` or more at once (the
  profile's `steps_at_once`, else the cores), else `in_process`. A step process costs about
  a second to start (a Dagster instance, the job, the plan): on 2 cores that ate more than
  the parallel steps gained (the sample clip: 51 s in process, 70-101 s multiprocess,
  docs/DECISIONS.md);
- `celery`: dagster-celery's executor, its loop kept from hanging on a lost worker or a
  silent broker (`dp_assets/celery_adapter.py`, the one module on internals).
  `DP_CELERY_BROKER_URL`, `DP_CELERY_BACKEND_URL` (default: the broker): Redis URLs, read by
  the run worker and by every Celery worker from its own environment (run config only
  names the variables).

A required component that fails stops the run (SPEC) on every executor the same way: each
step first looks for a failed required step in its run (`dp_assets/required_stop.py`) and,
finding one, starts nothing; Dagster skips its dependants.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import (
    ExecutorDefinition,
    executor,
    in_process_executor,
    multiprocess_executor,
)
from dagster_celery import celery_executor

from dp_assets.celery_adapter import GuardedCeleryExecutor
from dp_core.errors import DpError, ErrorCode

CPU_QUEUE = "cpu"  # the default queue: steps without a queue tag (e.g. asset checks)
EXECUTORS = ("multiprocess", "in_process", "celery")
BROKER_ENV = "DP_CELERY_BROKER_URL"
BACKEND_ENV = "DP_CELERY_BACKEND_URL"
BROKER_SOCKET_TIMEOUT_S = 10.0  # one Redis request (broker or result backend) at most
# dagster-celery's default Redis transport options (retries of a lost connection), with our
# socket deadlines added (config_source replaces the defaults as a whole)
BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_timeout": BROKER_SOCKET_TIMEOUT_S,
    "socket_connect_timeout": BROKER_SOCKET_TIMEOUT_S,
}
PARALLEL_FROM_STEPS = 4  # the default executor is multiprocess from this many steps at once
PRELOAD_MODULES = ["dp_assets.step_preload"]
PRELOAD_STORAGE_ENV = "DP_PRELOAD_STORAGE"  # the settings whose job step_preload builds
PRELOAD_PROFILE_ENV = "DP_PRELOAD_PROFILE"


def multiprocess_steps(steps_at_once: int | None = None) -> ExecutorDefinition:
    """Dagster's multiprocess executor: `steps_at_once` steps (default: the cores) in
    processes forked from a forkserver that preloaded dp and the run's job."""
    return multiprocess_executor.configured(multiprocess_config(steps_at_once), name="multiprocess")


def multiprocess_config(steps_at_once: int | None) -> dict:
    return {
        "max_concurrent": steps_at_once or os.cpu_count() or 1,
        "start_method": {"forkserver": {"preload_modules": PRELOAD_MODULES}},
    }


def default_executor(steps_at_once: int | None, cores: int | None = None) -> str:
    """`multiprocess` when `steps_at_once` (else the cores) reaches PARALLEL_FROM_STEPS, or
    when the profile asks for more than one step at once; else `in_process`."""
    at_once = steps_at_once or cores or os.cpu_count() or 1
    explicit = steps_at_once is not None and steps_at_once > 1
    return "multiprocess" if explicit or at_once >= PARALLEL_FROM_STEPS else "in_process"


def _guarded_celery_executor() -> ExecutorDefinition:
    """dagster-celery's `celery_executor` (same config and requirements), running
    `GuardedCeleryExecutor`'s loop."""

    @executor(
        name="celery",
        config_schema=celery_executor.config_schema,
        requirements=celery_executor.get_requirements,
    )
    def guarded_celery_executor(init_context):
        stock = celery_executor.executor_creation_fn(init_context)
        guarded = GuardedCeleryExecutor.__new__(GuardedCeleryExecutor)
        guarded.__dict__.update(stock.__dict__)
        guarded.broker_timeout_s = BROKER_SOCKET_TIMEOUT_S
        return guarded

    return guarded_celery_executor


def executor_from_env(
    env: Mapping[str, str] | None = None, steps_at_once: int | None = None
) -> ExecutorDefinition:
    """The process job's executor, chosen by `DP_EXECUTOR` (see the module's docstring)."""
    env = os.environ if env is None else env
    kind = env.get("DP_EXECUTOR") or default_executor(steps_at_once)
    if kind == "multiprocess":
        return multiprocess_steps(steps_at_once)
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
    return _guarded_celery_executor().configured(
        {
            "broker": {"env": BROKER_ENV},
            "backend": backend,
            # Steps without a queue tag (asset checks) go to the cpu workers, not to
            # dagster-celery's default `dagster` queue, which no worker here listens on.
            # Socket deadlines: a hung broker (accepts, never answers) fails the run's
            # steps with DEPENDENCY_ERROR within seconds instead of Redis' 120 s default.
            "config_source": {
                "task_default_queue": CPU_QUEUE,
                "redis_socket_timeout": BROKER_SOCKET_TIMEOUT_S,
                "redis_socket_connect_timeout": BROKER_SOCKET_TIMEOUT_S,
                "broker_transport_options": BROKER_TRANSPORT_OPTIONS,
            },
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
