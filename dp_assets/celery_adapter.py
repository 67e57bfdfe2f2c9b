"""The one place that reaches into Dagster and dagster-celery internals (docs/DECISIONS.md,
"The Celery loop is the one adapter"): dagster-celery's executor with its orchestration
loop (`core_celery_execution_loop`, 0.29) replaced where it hangs (issue 15):

- a task whose worker process died (`WorkerLostError`) is that step's STEP_FAILURE at once
  (the stock loop then stops submitting but loops without sleeping while independent steps
  are pending: the run stays STARTED, its process spinning, for ever);
- a step whose worker stopped answering pings (killed whole, host lost) fails after
  WORKER_MISSED_PINGS pings WORKER_PING_INTERVAL_S apart;
- a broker that stops answering (socket deadlines: dp_assets/execution.py) fails the
  in-flight steps and nothing else starts.
Those failures carry an `error_code` in their metadata (the manifest reads it). Public means
cannot keep these bounds: `task_reject_on_worker_lost` redelivers a task whose process died
(a step that OOMs loops), and a worker lost whole leaves its task unacknowledged until the
broker's visibility timeout (an hour). `tests/unit/test_celery_adapter.py` fails on a
dagster-celery whose loop or internals changed; re-check this module then.
"""

from __future__ import annotations

import sys
import time
from urllib.parse import urlsplit

from celery.exceptions import BackendError, TaskRevokedError
from dagster import DagsterEvent, DagsterEventType
from dagster._core.events import EngineEventData
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.objects import StepFailureData, UserFailureData
from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info
from dagster_celery.core_execution_loop import DELEGATE_MARKER, _get_step_priority
from dagster_celery.executor import CeleryExecutor, _submit_task
from dagster_celery.make_app import make_app
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG
from dagster_shared.serdes import deserialize_value
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from dp_core.errors import ErrorCode

CELERY_TICK_S = 0.5  # how often the run process polls its steps' Celery results
WORKER_PING_INTERVAL_S = 10.0
WORKER_PING_TIMEOUT_S = 2.0
WORKER_MISSED_PINGS = 3
WORKER_LOST_CODE = ErrorCode.RESOURCE_EXHAUSTED  # a killed worker process: most often OOM
BROKER_ERRORS = (RedisError, OperationalError, BackendError)


class GuardedCeleryExecutor(CeleryExecutor):
    broker_timeout_s: float = 10.0  # set by dp_assets/execution.py (its socket deadline)

    def execute(self, plan_context, execution_plan):
        return _celery_execution_loop(plan_context, execution_plan)


def _step_failure(job_context, step, error, code: ErrorCode, why: str) -> DagsterEvent:
    """A STEP_FAILURE the run process reports for a step whose task can no longer report."""
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


class _WorkerWatch:
    """Which worker took each in-flight step (its "Executing steps ... in celery worker"
    event) and whether it still answers a ping: a worker killed whole reports nothing."""

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
        names = sorted(set(hosts.values()))
        if not names:
            return {}
        replies = self.app.control.ping(destination=names, timeout=WORKER_PING_TIMEOUT_S)
        alive = {name for reply in replies for name in reply}
        for name in names:
            self.missed[name] = 0 if name in alive else self.missed.get(name, 0) + 1
        return {s: n for s, n in hosts.items() if self.missed[n] >= WORKER_MISSED_PINGS}


def _celery_execution_loop(job_context, execution_plan):
    app = make_app(job_context.executor.app_args())
    priority = app.conf.task_default_priority
    in_flight = {}  # step key -> celery AsyncResult
    watch = _WorkerWatch(app, job_context.instance, job_context.dagster_run.run_id)

    def fail(step_key, error, code: ErrorCode, why: str):
        step = active.get_step_by_key(step_key)
        failure = _step_failure(job_context, step, error, code, why)
        active.handle_event(failure)
        active.verify_complete(job_context, step_key)
        return failure

    with (
        InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency,
        execution_plan.start(
            retry_mode=job_context.executor.retries,
            sort_key_fn=lambda step: -_get_step_priority(job_context, step, priority),
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
                for step_key, result in list(in_flight.items()):
                    if not result.ready():
                        continue
                    step = active.get_step_by_key(step_key)
                    del in_flight[step_key]
                    try:
                        events = [deserialize_value(v, DagsterEvent) for v in result.get()]
                    except BROKER_ERRORS:
                        in_flight[step_key] = result
                        raise
                    except TaskRevokedError:
                        events = [
                            DagsterEvent.engine_event(
                                job_context.for_step(step),
                                f'celery task for running step "{step_key}" was revoked.',
                                EngineEventData(marker_end=DELEGATE_MARKER),
                            )
                        ]
                    except Exception:
                        why = (
                            f"the Celery task running step {step_key} ended without a result "
                            "(its worker process died: killed, or out of memory)"
                        )
                        error = serializable_error_info_from_exc_info(sys.exc_info())
                        yield fail(step_key, error, WORKER_LOST_CODE, why)
                        continue
                    for event in events:
                        yield event
                        active.handle_event(event)
                    active.verify_complete(job_context, step_key)
                for step_key, worker in watch.lost_steps(set(in_flight)).items():
                    in_flight.pop(step_key).revoke()
                    silent_s = WORKER_PING_INTERVAL_S * WORKER_MISSED_PINGS
                    why = (
                        f"Celery worker {worker} running step {step_key} stopped answering "
                        f"pings for {silent_s:.0f} s (killed, or its host lost)"
                    )
                    error = SerializableErrorInfo(message=why, stack=[], cls_name="WorkerLost")
                    yield fail(step_key, error, WORKER_LOST_CODE, why)
                yield from active.plan_events_iterator(job_context)
                for step in [] if stopping else active.get_steps_to_execute():
                    queue = step.tags.get(DAGSTER_CELERY_QUEUE_TAG, app.conf.task_default_queue)
                    yield DagsterEvent.engine_event(
                        job_context.for_step(step),
                        f'Submitting celery task for step "{step.key}" to queue "{queue}".',
                        EngineEventData(marker_start=DELEGATE_MARKER),
                    )
                    in_flight[step.key] = _submit_task(
                        app,
                        job_context,
                        step,
                        queue,
                        _get_step_priority(job_context, step, priority),
                        active.get_known_state(),
                    )
            except BROKER_ERRORS:
                # the broker / result backend did not answer within its socket deadline:
                # the in-flight steps can no longer report; nothing else starts
                url = urlsplit(app.conf.broker_url or "")
                why = (
                    f"the Celery broker at {url.hostname}:{url.port} did not answer "
                    f"within {job_context.executor.broker_timeout_s:g} s"
                )
                error = serializable_error_info_from_exc_info(sys.exc_info())
                for step_key in list(in_flight):
                    del in_flight[step_key]
                    yield fail(step_key, error, ErrorCode.DEPENDENCY_ERROR, why)
                stopping = True
                yield from _abandon_rest(job_context, active, f"{why}, so no further step starts")
            time.sleep(CELERY_TICK_S)


def _abandon_rest(job_context, active, why: str):
    """Every step that has not started is abandoned (its dependants skipped), with a
    warning each: the plan completes and the run ends FAILURE, not interrupted."""
    yield from active.plan_events_iterator(job_context)
    while not active.is_complete:
        steps = active.get_steps_to_execute()
        if not steps:
            break
        for step in steps:
            job_context.for_step(step).log.warning(f"Not starting step {step.key}: {why}")
            active.mark_abandoned(step.key)
        yield from active.plan_events_iterator(job_context)
