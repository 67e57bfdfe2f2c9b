"""Event-log retention: the events of finished video runs are deleted after an age.

A video run leaves its events in the Dagster home (SQLite or PostgreSQL) for ever unless
something removes them. Its outcome is written to storage at run end (the manifest, the
state journal: dp_assets/run_records.py), so once those exist the run's events are
history. `apply_retention` deletes (`DagsterInstance.delete_run`, public) every run that

- finished (success, failure, canceled) more than `max_age_days` ago,
- covered videos (a partition or partition-range tag), and is not a mark-failed follow-up
  run (those keep failed videos shown Failed in Dagster; dp_assets/failure_marks.py),
- and has the manifest of every one of its videos in storage (else it is kept: its
  events are the only record of what it made, and `dp process` finalizes it later).

Deleting a run deletes its materializations, and the partition's latest materialization
is what the reuse planner (dp_assets/freshness.py), the IO manager's fallback for a re-run
of selected components and the UI read. So before a run is deleted, each ok/empty result
of it that is still its partition's latest is reported again, without a run, as a compact
copy: the same `StepRecord` (key, digest, fingerprint, input digests) naming the run that
made it and when (`made_by_run`, `made_at`), with the code and data version tags. Reuse,
partial re-runs and the partition's status in the UI are the same after retention; what
goes is the per-step history (logs, step events, check evaluations' run events, previews).
On the embedded SQLite home the emptied per-run database is vacuumed too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetMaterialization,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    RunsFilter,
    ScheduleDefinition,
    job,
    op,
)

from dp_assets.factory import MARK_FAILED_TAG
from dp_assets.partitions import VIDEOS
from dp_assets.run_records import PARTITION, RANGE_START, run_partition_keys
from dp_assets.step_record import StepRecord
from dp_core.errors import DpError, ErrorCode
from dp_core.storage_keys import manifest_key
from dp_resources.storage.backends import Storage

RETENTION_ENV = "DP_EVENT_RETENTION_DAYS"
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
# tags that point at events of the deleted run: not carried over to the kept copy
_DROPPED_TAG_PREFIX = "dagster/input_event_pointer/"


@dataclass
class RetentionReport:
    deleted: list[str] = field(default_factory=list)  # run ids
    kept_unwritten: list[str] = field(default_factory=list)  # finished, manifests missing
    copies: int = 0  # latest results reported again before their run was deleted

    def as_json(self) -> dict:
        return {
            "deleted_runs": len(self.deleted),
            "kept_without_manifests": self.kept_unwritten,
            "latest_results_kept": self.copies,
        }


def retention_days(environ: dict | None = None) -> float | None:
    """Days after which finished video runs' events go (`DP_EVENT_RETENTION_DAYS`); None
    when unset or empty (keep everything)."""
    value = (os.environ if environ is None else environ).get(RETENTION_ENV, "").strip()
    if not value:
        return None
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"{RETENTION_ENV}={value!r}: give a number of days, 0 or more (unset keeps all)",
        )
    return days


def apply_retention(
    instance: DagsterInstance,
    storage: Storage,
    max_age_days: float,
    now: float | None = None,
) -> RetentionReport:
    """Delete the events of video runs that finished more than `max_age_days` ago and
    whose manifests are in `storage` (see the module docstring)."""
    cutoff = (time.time() if now is None else now) - max_age_days * 86400.0
    report = RetentionReport()
    registered: list[str] | None = None  # the partition list, read once if a range needs it
    for run_record in instance.get_run_records(
        RunsFilter(statuses=FINISHED, updated_before=datetime.fromtimestamp(cutoff, UTC))
    ):
        run = run_record.dagster_run
        if MARK_FAILED_TAG in run.tags or not (PARTITION in run.tags or RANGE_START in run.tags):
            continue
        ended = run_record.end_time or run_record.update_timestamp.timestamp()
        if ended > cutoff:
            continue
        if RANGE_START in run.tags and registered is None:
            registered = instance.get_dynamic_partitions(VIDEOS)
        keys = run_partition_keys(instance, run.tags, registered)
        if not keys or not all(storage.exists(manifest_key(k, run.run_id)) for k in keys):
            report.kept_unwritten.append(run.run_id)
            continue
        report.copies += _keep_latest_results(instance, run.run_id)
        instance.delete_run(run.run_id)
        _compact_emptied_sqlite_shard(instance, run.run_id)
        report.deleted.append(run.run_id)
    return report


def _keep_latest_results(instance: DagsterInstance, run_id: str) -> int:
    """Report again, without a run, each ok/empty result of `run_id` that is still its
    partition's latest materialization; returns how many."""
    kept = 0
    partitions = {
        (m.asset_key, m.partition)
        for m in (r.asset_materialization for r in _materializations(instance, run_id))
        if m is not None and m.partition is not None
    }
    for asset_key, partition in sorted(partitions, key=lambda p: (p[0].to_string(), p[1])):
        [latest] = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
        ).records
        if latest.run_id != run_id:
            continue  # a newer result (another run, or a kept copy) holds the partition
        materialization = latest.asset_materialization
        record = StepRecord.from_metadata(materialization.metadata)
        if not record.reusable_status:
            continue  # an error result is never reused; its mark-failed run shows it
        copy = dataclasses.replace(record, made_by_run=run_id, made_at=latest.timestamp)
        instance.report_runless_asset_event(
            AssetMaterialization(
                asset_key=asset_key,
                partition=partition,
                metadata=copy.to_metadata(),
                tags={
                    name: value
                    for name, value in (materialization.tags or {}).items()
                    if not name.startswith(_DROPPED_TAG_PREFIX)
                },
            )
        )
        kept += 1
    return kept


def _compact_emptied_sqlite_shard(instance: DagsterInstance, run_id: str) -> None:
    """The embedded SQLite event log keeps one database per run (Dagster's
    SqliteEventLogStorage: `<home>/history/runs/<run_id>.db`); `delete_run` empties it, but
    the file keeps its pages. An emptied one is vacuumed down to its empty tables (not
    removed: Dagster remembers the file as set up). PostgreSQL has none (autovacuum)."""
    shard = Path(instance.root_directory) / "history" / "runs" / f"{run_id}.db"
    if not shard.is_file():
        return
    with contextlib.closing(sqlite3.connect(shard)) as db:
        if db.execute("SELECT COUNT(*) FROM event_logs").fetchone()[0] == 0:
            db.execute("VACUUM")


def _materializations(instance: DagsterInstance, run_id: str) -> Sequence:
    records, cursor = [], None
    while True:
        page = instance.get_records_for_run(
            run_id, cursor=cursor, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=1000
        )
        records.extend(page.records)
        if not page.has_more:
            return records
        cursor = page.cursor


@op(required_resource_keys={"storage"})
def apply_event_log_retention(context) -> None:
    """The daily retention the daemon runs: `DP_EVENT_RETENTION_DAYS` of the code location's
    environment (unset: nothing is deleted)."""
    days = retention_days()
    if days is None:
        context.log.info(f"{RETENTION_ENV} unset: every run's events are kept")
        return
    report = apply_retention(context.instance, context.resources.storage.get_storage(), days)
    context.log.info(
        f"deleted the events of {len(report.deleted)} run(s) finished more than {days:g} "
        f"day(s) ago; {report.copies} newest result(s) kept as runless copies; "
        f"{len(report.kept_unwritten)} run(s) kept (manifests not written yet)"
    )


@job(name="event_log_retention", description="Delete the events of old finished video runs")
def event_log_retention_job() -> None:
    apply_event_log_retention()


event_log_retention_schedule = ScheduleDefinition(
    name="event_log_retention_daily",
    job=event_log_retention_job,
    cron_schedule="17 3 * * *",  # daily, off the hour
    # running on a daemon whose environment sets the age; stopped (switchable in the UI) else
    default_status=(
        DefaultScheduleStatus.RUNNING
        if os.environ.get(RETENTION_ENV, "").strip()
        else DefaultScheduleStatus.STOPPED
    ),
)
