"""Where steps run: the executor (in-process by default, Celery in production), the Celery
queue of each component step, and the `gpu` concurrency pool for steps a profile puts on CUDA.

Environment (see `.env.example`):
- `DP_EXECUTOR`: `in_process` (default: `dp process`, `dagster dev`) or `celery`.
- `DP_CELERY_BROKER_URL`, `DP_CELERY_BACKEND_URL` (default: the broker): Redis URLs, read
  by the run worker and by every Celery worker from its own environment (never stored in
  run config: the config only names the variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import (
    AssetsDefinition,
    ExecutorDefinition,
    In,
    OpDefinition,
    Out,
    in_process_executor,
)
from dagster_celery import celery_executor

from dp_core.components import MODEL_COMPONENTS
from dp_core.errors import DpError, ErrorCode
from dp_core.profile import ComponentSpec

CELERY_QUEUE_TAG = "dagster-celery/queue"
CPU_QUEUE = "cpu"
GPU_QUEUE = "gpu"
GPU_POOL = "gpu"
EXECUTORS = ("in_process", "celery")
BROKER_ENV = "DP_CELERY_BROKER_URL"
BACKEND_ENV = "DP_CELERY_BACKEND_URL"


def step_queue(component: str) -> str:
    """The Celery queue of a component's step: model inference on `gpu` workers (which hold
    the accelerator and the Triton client), everything else on `cpu` workers."""
    return GPU_QUEUE if component in MODEL_COMPONENTS else CPU_QUEUE


def step_op_tags(component: str) -> dict[str, str]:
    return {CELERY_QUEUE_TAG: step_queue(component)}


def step_pool(spec: ComponentSpec) -> str | None:
    """`gpu` for steps the profile runs on CUDA: the instance's `gpu` pool limit (see
    deploy/dagster.prod.yaml) caps how many of them hold the accelerator at once."""
    return GPU_POOL if spec.device == "cuda" else None


def with_pool(assets_def: AssetsDefinition, pool: str | None) -> AssetsDefinition:
    """The same asset with its op in concurrency pool `pool` (None: unchanged).

    A profile decides the device after the asset is decorated, so the pool is set here
    when definitions are built for that profile.
    """
    op = assets_def.op
    if pool is None or op.pool == pool:
        return assets_def
    pooled = OpDefinition.dagster_internal_init(
        name=op.name,
        ins={d.name: In.from_definition(d) for d in op.input_defs},
        outs={d.name: Out.from_definition(d) for d in op.output_defs},
        compute_fn=op.compute_fn,
        config_schema=op.config_schema,
        description=op.description,
        tags=op.tags,
        required_resource_keys=op.required_resource_keys,
        code_version=op._version,  # no public getter; `version` is deprecated
        retry_policy=op.retry_policy,
        version=None,
        pool=pool,
    )
    return AssetsDefinition.dagster_internal_init(
        **{**assets_def.get_attributes_dict(), "node_def": pooled}
    )


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
