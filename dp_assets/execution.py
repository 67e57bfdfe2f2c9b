"""Where steps run: the executor (in-process by default, Celery in production). Each
component step's Celery queue and pool come from its spec and profile (dp_assets/factory.py).

Environment (see `.env.example`):
- `DP_EXECUTOR`: `in_process` (default: `dp process`, `dagster dev`) or `celery`.
- `DP_CELERY_BROKER_URL`, `DP_CELERY_BACKEND_URL` (default: the broker): Redis URLs, read
  by the run worker and by every Celery worker from its own environment (never stored in
  run config: the config only names the variables).

Both executors stop a run once a required component's step failed: no further step starts
(SPEC: "a required component that fails stops the run"); Dagster's own executors stop only
that step's dependants and go on with independent steps. The Celery one is dagster-celery's
executor with its orchestration loop replaced (`_celery_execution_loop`), so that no run
stays STARTED (issue 15):
- a task whose worker process died (`WorkerLostError`) is that step's STEP_FAILURE at once
  (dagster-celery 0.29's loop then stopped submitting but looped without sleeping while
  independent steps were pending: the run stayed STARTED, its process spinning, for ever);
- a step whose worker stopped answering pings (killed whole, host lost) fails after
  WORKER_MISSED_PINGS pings WORKER_PING_INTERVAL_S apart;
- a broker that stops answering fails the in-flight steps within BROKER_SOCKET_TIMEOUT_S
  (Redis' own default is 120 s per request) and nothing else starts.
Those failures carry an `error_code` in their metadata (the manifest reads it).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from celery.exceptions import BackendError, TaskRevokedError
from dagster import DagsterEventType, ExecutorDefinition, executor
from dagster._core.definitions.executor_definition import (
    IN_PROC_CONFIG,
    multiple_process_executor_requirements,
)
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.execution.plan.execute_plan import inner_plan_execution_iterator
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.objects import StepFailureData, UserFailureData
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.in_process import InProcessExecutor
from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info
from dagster_celery.core_execution_loop import DELEGATE_MARKER, _get_step_priority
from dagster_celery.defaults import broker_transport_options as DEFAULT_BROKER_TRANSPORT_OPTIONS
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task
from dagster_celery.make_app import make_app
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG
from dagster_shared.serdes import deserialize_value
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from dp_assets.step_threads import threaded_plan_iterator
from dp_core.errors import DpError, ErrorCode

CPU_QUEUE = "cpu"  # the default queue: steps without a queue tag (e.g. asset checks)
EXECUTORS = ("in_process", "celery")
BROKER_ENV = "DP_CELERY_BROKER_URL"
BACKEND_ENV = "DP_CELERY_BACKEND_URL"
CELERY_TICK_S = 0.5  # how often the run process polls its steps' Celery results
# A step's worker that misses this many pings in a row, one every interval, is lost: the
# step fails within ~interval x missed (+ the ping timeout).
WORKER_PING_INTERVAL_S = 10.0
WORKER_PING_TIMEOUT_S = 2.0
WORKER_MISSED_PINGS = 3
WORKER_LOST_CODE = ErrorCode.RESOURCE_EXHAUSTED  # a killed worker process: most often OOM
BROKER_SOCKET_TIMEOUT_S = 10.0  # one Redis request (broker or result backend) at most
BROKER_ERRORS = (RedisError, OperationalError, BackendError)


class _StopAfterRequiredFailure(ActiveExecution):
    """Dagster's plan bookkeeping, plus: once a step in `required` fails, every step that has
    not started is abandoned (a warning names the failed step); steps in flight finish."""

    def __init__(self, *args, required: frozenset[str], **kwargs):
        self._required = required
        self._stopped_by: str | None = None
        self._halted: list[str] = []
        super().__init__(*args, **kwargs)

    def handle_event(self, dagster_event: DagsterEvent) -> None:
        super().handle_event(dagster_event)
        if (
            dagster_event.is_step_failure
            and dagster_event.step_key in self._required
            and self._stopped_by is None
        ):
            self._stopped_by = f"required component {dagster_event.step_key} failed"

    def stop(self, reason: str) -> None:
        """No further step starts (e.g. the broker stopped answering)."""
        self._stopped_by = self._stopped_by or reason

    def _update(self) -> None:
        super()._update()
        if self._stopped_by is None:
            return
        self._halted += [*self._pending, *self._executable, *self._waiting_to_retry]
        self._pending.clear()
        self._executable.clear()
        self._waiting_to_retry.clear()

    def plan_events_iterator(self, job_context) -> Iterator[DagsterEvent]:
        self._update()
        for key in sorted(self._halted):
            step = self.get_step_by_key(key)
            self._in_flight.add(key)  # bookkeeping: abandoning completes an in-flight step
            job_context.for_step(step).log.warning(
                f"Not starting step {key}: {self._stopped_by}, "
                "so no further step of this run starts."
            )
            self.mark_abandoned(key)
        self._halted.clear()
        yield from super().plan_events_iterator(job_context)


class _StoppingPlan(ExecutionPlan):
    """The same plan; `start` hands out the bookkeeping that stops after a required failure."""

    required: frozenset[str] = frozenset()

    @classmethod
    def of(cls, plan: ExecutionPlan, required: frozenset[str]) -> _StoppingPlan:
        stopping = cls(*plan)
        stopping.required = required
        return stopping

    def start(
        self,
        retry_mode: RetryMode,
        sort_key_fn=None,
        max_concurrent: int | None = None,
        tag_concurrency_limits=None,
        instance_concurrency_context: InstanceConcurrencyContext | None = None,
        step_dependency_config: StepDependencyConfig | None = None,
    ) -> ActiveExecution:
        return _StopAfterRequiredFailure(
            self,
            retry_mode,
            sort_key_fn,
            max_concurrent,
            tag_concurrency_limits,
            instance_concurrency_context=instance_concurrency_context,
            step_dependency_config=step_dependency_config or StepDependencyConfig.default(),
            required=self.required,
        )


class _StoppingInProcessExecutor(InProcessExecutor):
    """Dagster's in-process executor over a `_StoppingPlan`."""

    def __init__(self, required: frozenset[str], step_threads: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.required, self.step_threads = required, step_threads

    def execute(self, plan_context, execution_plan) -> Iterator[DagsterEvent]:
        def iterate(job_context, execution_plan):
            plan = _StoppingPlan.of(execution_plan, self.required)
            with InstanceConcurrencyContext(
                job_context.instance, job_context.dagster_run
            ) as concurrency:
                if self.step_threads > 1:  # independent steps at once (dp_assets/step_threads.py)
                    yield from threaded_plan_iterator(
                        job_context, plan, concurrency, self.step_threads
                    )
                else:
                    yield from inner_plan_execution_iterator(job_context, plan, concurrency)

        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {os.getpid()})",
            event_specific_data=EngineEventData.in_process(
                os.getpid(), execution_plan.step_keys_to_execute
            ),
        )
        yield from ExecuteRunWithPlanIterable(
            execution_plan=plan_context.execution_plan,
            iterator=iterate,
            execution_context_manager=PlanExecutionContextManager(
                job=plan_context.job,
                retry_mode=plan_context.retry_mode,
                execution_plan=plan_context.execution_plan,
                run_config=plan_context.run_config,
                dagster_run=plan_context.dagster_run,
                instance=plan_context.instance,
                raise_on_error=plan_context.raise_on_error,
                output_capture=plan_context.output_capture,
                step_dependency_config=self.step_dependency_config,
            ),
        )


def in_process_executor_stopping_on(
    required: frozenset[str], step_threads: int = 1
) -> ExecutorDefinition:
    """Dagster's in-process executor (same config), stopping after a required failure, with
    up to `step_threads` independent steps at once."""

    @executor(name="in_process", config_schema=IN_PROC_CONFIG)
    def stopping_in_process_executor(init_context):
        return _StoppingInProcessExecutor(
            required,
            step_threads,
            retries=RetryMode.from_config(init_context.executor_config["retries"]),
        )

    return stopping_in_process_executor


class _StoppingCeleryExecutor(CeleryExecutor):
    def __init__(self, required: frozenset[str], **kwargs):
        super().__init__(**kwargs)
        self.required = required

    def execute(self, plan_context, execution_plan) -> Iterator[DagsterEvent]:
        return _celery_execution_loop(
            plan_context, _StoppingPlan.of(execution_plan, self.required), _submit_task
        )


def celery_executor_stopping_on(required: frozenset[str]) -> ExecutorDefinition:
    """dagster-celery's executor (same config), stopping after a required failure, with a
    lost worker process reported as its step's failure."""

    @executor(
        name="celery",
        config_schema=CELERY_CONFIG,
        requirements=multiple_process_executor_requirements(),
    )
    def stopping_celery_executor(init_context):
        config = init_context.executor_config
        return _StoppingCeleryExecutor(
            required,
            broker=config.get("broker"),
            backend=config.get("backend"),
            config_source=config.get("config_source"),
            include=config.get("include"),
            retries=RetryMode.from_config(config["retries"]),
        )

    return stopping_celery_executor


def _step_failure(job_context, step, error, code: ErrorCode, why: str) -> DagsterEvent:
    """A STEP_FAILURE reported by the run process for a step whose Celery task can no
    longer report (its worker died, or the broker stopped answering); `code` in its
    metadata (`error_code`), `why` its description."""
    return DagsterEvent.step_failure_event(
        job_context.for_step(step),
        StepFailureData(
            error=error,
            user_failure_data=UserFailureData(
                label="celery_task_lost", description=why, metadata={"error_code": code.value}
            ),
        ),
        message=f'Step "{step.key}" failed [{code.value}]: {why} ({error.cls_name}).',
    )


def _broker_address(app) -> str:
    url = urlsplit(app.conf.broker_url or "")
    return f"{url.hostname}:{url.port}"


class _WorkerWatch:
    """Which Celery worker took each in-flight step (the worker's own "Executing steps ... in
    celery worker" event), and whether that worker still answers a ping. A worker killed
    whole (container OOM, node lost) reports nothing to Celery: without this its steps would
    wait for ever."""

    def __init__(self, app, instance, run_id: str):
        self.app, self.instance, self.run_id = app, instance, run_id
        self.missed: dict[str, int] = {}  # hostname -> consecutive unanswered pings
        self.next_check = time.monotonic() + WORKER_PING_INTERVAL_S

    def _hosts(self, steps: set[str]) -> dict[str, str]:
        hosts: dict[str, str] = {}
        records = self.instance.get_records_for_run(
            self.run_id, of_type=DagsterEventType.ENGINE_EVENT
        ).records
        for record in records:
            event = record.event_log_entry.dagster_event
            if event.step_key not in steps:
                continue
            if event.message.startswith("Submitting celery task"):
                hosts.pop(event.step_key, None)  # (re)submitted: no worker has it yet
            worker = (event.engine_event_data.metadata or {}).get("Celery worker")
            if worker is not None:
                hosts[event.step_key] = worker.value
        return hosts

    def lost_steps(self, steps: set[str]) -> dict[str, str]:
        """step key -> hostname, for in-flight steps whose worker missed
        WORKER_MISSED_PINGS pings in a row (checked every WORKER_PING_INTERVAL_S)."""
        if not steps or time.monotonic() < self.next_check:
            return {}
        self.next_check = time.monotonic() + WORKER_PING_INTERVAL_S
        hosts = self._hosts(steps)
        if not hosts:
            return {}
        names = sorted(set(hosts.values()))
        replies = self.app.control.ping(destination=names, timeout=WORKER_PING_TIMEOUT_S)
        alive = {name for reply in replies for name in reply}
        for name in names:
            self.missed[name] = 0 if name in alive else self.missed.get(name, 0) + 1
        return {
            step: name for step, name in hosts.items() if self.missed[name] >= WORKER_MISSED_PINGS
        }


def _celery_execution_loop(job_context, execution_plan, step_execution_fn):
    """dagster-celery's `core_celery_execution_loop` (0.29), changed where it hung: a task
    that raises instead of returning its step events (WorkerLostError), a step whose worker
    stopped answering pings, and a broker that stops answering (socket deadlines in
    `executor_from_env`) each become STEP_FAILUREs with a code, so dependants (and, after a
    required step, everything) are abandoned and the run ends; every tick sleeps."""
    app = make_app(job_context.executor.app_args())
    default_priority = app.conf.task_default_priority
    in_flight = {}  # step key -> celery AsyncResult
    watch = _WorkerWatch(app, job_context.instance, job_context.dagster_run.run_id)
    with (
        InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency,
        execution_plan.start(
            retry_mode=job_context.executor.retries,
            sort_key_fn=lambda step: -_get_step_priority(job_context, step, default_priority),
            instance_concurrency_context=concurrency,
        ) as active,
    ):
        stopping = False
        while (not active.is_complete and not stopping) or in_flight:
            if active.check_for_interrupts():
                yield DagsterEvent.engine_event(
                    job_context,
                    "Celery executor: received termination signal - revoking active tasks",
                    EngineEventData.interrupted(list(in_flight)),
                )
                stopping = True
                active.mark_interrupted()
                for result in in_flight.values():
                    result.revoke()
            try:
                yield from _collect_finished(job_context, active, in_flight)
                yield from _fail_lost(job_context, active, in_flight, watch)
                yield from active.plan_events_iterator(job_context)
                if not stopping:
                    yield from _submit_ready(
                        app, job_context, active, in_flight, step_execution_fn, default_priority
                    )
            except BROKER_ERRORS:
                # the broker / result backend did not answer within its socket deadline:
                # the in-flight steps can no longer report; stop the whole run
                error = serializable_error_info_from_exc_info(sys.exc_info())
                why = (
                    f"the Celery broker at {_broker_address(app)} did not answer "
                    f"within {BROKER_SOCKET_TIMEOUT_S:g} s"
                )
                active.stop(f"the Celery broker at {_broker_address(app)} stopped answering")
                for step_key in list(in_flight):
                    del in_flight[step_key]
                    step = active.get_step_by_key(step_key)
                    failure = _step_failure(
                        job_context, step, error, ErrorCode.DEPENDENCY_ERROR, why
                    )
                    yield failure
                    active.handle_event(failure)
                    active.verify_complete(job_context, step_key)
                yield from active.plan_events_iterator(job_context)
                stopping = True
            time.sleep(CELERY_TICK_S)


def _collect_finished(job_context, active, in_flight) -> Iterator[DagsterEvent]:
    """The events of every finished task; a task that raised is its step's failure."""
    for step_key, result in list(in_flight.items()):
        if not result.ready():
            continue
        step = active.get_step_by_key(step_key)
        try:
            serialized = result.get()
        except BROKER_ERRORS:
            raise
        except TaskRevokedError:
            serialized = []
            yield DagsterEvent.engine_event(
                job_context.for_step(step),
                f'celery task for running step "{step_key}" was revoked.',
                EngineEventData(marker_end=DELEGATE_MARKER),
            )
        except Exception:
            error = serializable_error_info_from_exc_info(sys.exc_info())
            why = (
                f"the Celery task running step {step_key} ended without a result "
                "(its worker process died: killed, or out of memory)"
            )
            failure = _step_failure(job_context, step, error, WORKER_LOST_CODE, why)
            yield failure
            active.handle_event(failure)
            serialized = []
        del in_flight[step_key]
        for value in serialized:
            event = deserialize_value(value, DagsterEvent)
            yield event
            active.handle_event(event)
        active.verify_complete(job_context, step_key)


def _fail_lost(job_context, active, in_flight, watch) -> Iterator[DagsterEvent]:
    """Steps whose worker stopped answering pings fail (see `_WorkerWatch`)."""
    for step_key, worker in watch.lost_steps(set(in_flight)).items():
        in_flight.pop(step_key).revoke()
        step = active.get_step_by_key(step_key)
        silent_s = WORKER_PING_INTERVAL_S * WORKER_MISSED_PINGS
        why = (
            f"Celery worker {worker} running step {step_key} stopped answering pings "
            f"for {silent_s:.0f} s (killed, or its host lost)"
        )
        error = SerializableErrorInfo(message=why, stack=[], cls_name="WorkerLost")
        failure = _step_failure(job_context, step, error, WORKER_LOST_CODE, why)
        yield failure
        active.handle_event(failure)
        active.verify_complete(job_context, step_key)


def _submit_ready(
    app, job_context, active, in_flight, step_execution_fn, default_priority
) -> Iterator[DagsterEvent]:
    for step in active.get_steps_to_execute():
        queue = step.tags.get(DAGSTER_CELERY_QUEUE_TAG, app.conf.task_default_queue)
        yield DagsterEvent.engine_event(
            job_context.for_step(step),
            f'Submitting celery task for step "{step.key}" to queue "{queue}".',
            EngineEventData(marker_start=DELEGATE_MARKER),
        )
        in_flight[step.key] = step_execution_fn(
            app,
            job_context,
            step,
            queue,
            _get_step_priority(job_context, step, default_priority),
            active.get_known_state(),
        )


def executor_from_env(
    env: Mapping[str, str] | None = None,
    required: frozenset[str] = frozenset(),
    step_threads: int = 1,
) -> ExecutorDefinition:
    """The process job's executor, chosen by `DP_EXECUTOR`; it stops the run once a step
    in `required` (the profile's required components) failed. In process, up to
    `step_threads` independent steps run at once."""
    env = os.environ if env is None else env
    kind = env.get("DP_EXECUTOR", "in_process") or "in_process"
    if kind == "in_process":
        return in_process_executor_stopping_on(required, step_threads)
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
    return celery_executor_stopping_on(required).configured(
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
                "broker_transport_options": {
                    **DEFAULT_BROKER_TRANSPORT_OPTIONS,
                    "socket_timeout": BROKER_SOCKET_TIMEOUT_S,
                    "socket_connect_timeout": BROKER_SOCKET_TIMEOUT_S,
                },
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
