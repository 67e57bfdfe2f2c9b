"""Independent steps of one run at once, in threads of the run's process.

Dagster's in-process executor runs one step at a time: on one video the graph used ~1.2 of 2
cores (benchmarks/pipeline.py), while most of its steps only wait on each other through the
segmenter. Its multiprocess executor starts a Python process per step (seconds of imports
each). This is Dagster's in-process plan loop (`inner_plan_execution_iterator`) with up to
`workers` steps in flight: each step's event sequence runs in its own thread, in a copy of
the run's context variables, and the run's thread takes the events in the order they come,
so the plan's bookkeeping (`ActiveExecution`: dependencies, pools, retries, the stop after a
required failure) stays in one thread. Our steps' work is NumPy, OpenCV, PyAV and
onnxruntime, which release the GIL. Hooks are not run (the process job has none).
"""

from __future__ import annotations

import contextvars
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack

from dagster._core.events import DagsterEvent
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import PlanExecutionContext
from dagster._core.execution.plan.execute_plan import (
    _handle_compute_log_setup_error,
    _handle_compute_log_teardown_error,
    dagster_event_sequence_for_step,
)
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan

_DONE = object()  # a step's thread has yielded its last event


def threaded_plan_iterator(
    job_context: PlanExecutionContext,
    execution_plan: ExecutionPlan,
    instance_concurrency_context: InstanceConcurrencyContext | None,
    workers: int,
) -> Iterator[DagsterEvent]:
    compute_log_manager = job_context.instance.compute_log_manager
    step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    with (
        execution_plan.start(
            retry_mode=job_context.retry_mode,
            instance_concurrency_context=instance_concurrency_context,
            step_dependency_config=job_context.step_dependency_config,
        ) as active_execution,
        ExitStack() as capture_stack,
    ):
        file_key = create_compute_log_file_key()
        log_key = compute_log_manager.build_log_key_for_run(job_context.run_id, file_key)
        try:
            log_context = capture_stack.enter_context(compute_log_manager.capture_logs(log_key))
            yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)
        except Exception:
            yield from _handle_compute_log_setup_error(job_context, sys.exc_info())
        yield from _run_steps(job_context, active_execution, max(1, workers))
        try:
            capture_stack.close()
        except Exception:
            yield from _handle_compute_log_teardown_error(job_context, sys.exc_info())


def _run_steps(job_context, active_execution, workers: int) -> Iterator[DagsterEvent]:
    events: queue.Queue = queue.Queue()
    running: set[str] = set()

    def drive(step_context, key: str) -> None:
        try:
            for event in dagster_event_sequence_for_step(step_context):
                events.put((key, event))
        except BaseException as exc:  # a framework error: re-raised in the run's thread
            events.put((key, exc))
        finally:
            events.put((key, _DONE))

    while not active_execution.is_complete or running:
        while len(running) < workers and not active_execution.is_complete:
            step = active_execution.get_next_step()
            yield from active_execution.concurrency_event_iterator(job_context)
            if step is None:
                break
            step_context = job_context.for_step(step, active_execution.get_known_state())
            running.add(step.key)
            thread = threading.Thread(
                target=contextvars.copy_context().run,
                args=(drive, step_context, step.key),
                name=f"step-{step.key}",
                daemon=True,
            )
            thread.start()
        if not running:
            if not active_execution.is_complete:
                active_execution.sleep_til_ready()
            continue
        key, item = events.get()
        if item is _DONE:
            running.discard(key)
            active_execution.verify_complete(job_context, key)
            # skips after failures, and the stop after a required failure
            yield from active_execution.plan_events_iterator(job_context)
        elif isinstance(item, BaseException):
            raise item
        else:
            yield item
            active_execution.handle_event(item)
