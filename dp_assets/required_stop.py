"""SPEC: "a required component that fails stops the run: no new component steps start".
Dagster's executors stop only a failed step's dependants; so every component step first
asks its run's event log whether a required step has failed, and if so starts nothing
(its dependants are then skipped by Dagster). Steps already running finish. The same guard
works on every executor (in process, multiprocess, Celery workers), with public APIs only.
"""

from __future__ import annotations

from collections.abc import Collection

from dagster import DagsterEventType, DagsterInstance


def failed_required_step(
    instance: DagsterInstance, run_id: str, required: Collection[str]
) -> str | None:
    """The first required step that failed in `run_id` (a failure after its retries), or None."""
    if not required:
        return None
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE).records
    for record in records:
        step_key = record.event_log_entry.dagster_event.step_key
        if step_key in required:
            return step_key
    return None


def not_starting_message(step_key: str, failed: str) -> str:
    return (
        f"Not starting step {step_key}: required component {failed} failed, "
        "so no further step of this run starts."
    )
