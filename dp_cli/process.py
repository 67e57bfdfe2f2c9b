"""`dp process`: register videos, run the profile's assets in batched runs, report."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    RunsFilter,
    build_reconstructable_job,
    execute_job,
)

from dp_assets.definitions import PROFILE_TAG, Settings, process_job
from dp_assets.execution import PRELOAD_PROFILE_ENV, PRELOAD_STORAGE_ENV
from dp_assets.failure_marks import mark_failed_videos
from dp_assets.leases import lease_owner
from dp_assets.partitions import VIDEOS, newest_keys_reaching
from dp_assets.planning import PlanningContext, check_services, leased, plan_batch, plan_batches
from dp_assets.run_records import RANGE_END, RANGE_START, finalize_run
from dp_assets.step_record import StepRecord
from dp_assets.uploads import (
    UploadRecord,
    collect_videos,
    prepare_upload,
    register_partitions,
    report_uploads,
)
from dp_cli.run_guard import fail_orphaned_runs, process_tags
from dp_core.errors import DpError, ErrorCode
from dp_core.manifest import Manifest
from dp_core.profile import Profile
from dp_core.storage_keys import manifest_key, result_prefix
from dp_resources.storage.backends import Storage, open_storage
from dp_resources.storage.verified_objects import ObjectVerifier, VerifiedCache

QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
INVOCATION_TAG = "dp/invocation"  # finds the run `execute_job` creates while it runs


@dataclass
class VideoResult:
    source: str
    platform: str = ""
    video_id: str = ""
    partition_key: str = ""
    run_id: str | None = None
    status: str = "error"
    error_code: str | None = None
    message: str | None = None
    manifest_key: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "empty": 0, "error": 0})
    reused: int = 0  # components up to date from earlier runs, not recomputed

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "platform": self.platform,
            "video_id": self.video_id,
            "partition_key": self.partition_key,
            "run_id": self.run_id,
            "status": self.status,
            "error_code": self.error_code,
            "message": self.message,
            "manifest_key": self.manifest_key,
            "components": self.counts,
            "reused": self.reused,
        }


class ProgressPrinter(threading.Thread):
    """Follows a run's event log and prints each component step and per-video result."""

    def __init__(self, instance: DagsterInstance, invocation: str, components: list[str], echo):
        super().__init__(daemon=True)
        self.instance, self.invocation = instance, invocation
        self.components, self.echo = components, echo
        self.run_id: str | None = None
        self.stop_event = threading.Event()
        self.cursor = None

    def run(self) -> None:
        while not self.stop_event.wait(0.3):
            self.poll()

    def finish(self) -> None:
        self.stop_event.set()
        self.join()
        self.poll()

    def poll(self) -> None:
        if self.run_id is None:
            found = self.instance.get_run_records(
                RunsFilter(tags={INVOCATION_TAG: self.invocation}), limit=1
            )
            if not found:
                return
            self.run_id = found[0].dagster_run.run_id
        connection = self.instance.get_records_for_run(self.run_id, cursor=self.cursor)
        self.cursor = connection.cursor
        for record in connection.records:
            entry = record.event_log_entry
            event = entry.dagster_event
            if event is None:
                # per-video retries (dp_assets/component_step.py): code, attempt, video
                if entry.level >= logging.WARNING and " — retry " in entry.user_message:
                    self.echo(f"    ↻ {entry.user_message.strip()}")
                continue
            if event.event_type == DagsterEventType.STEP_UP_FOR_RETRY:
                retry = event.event_specific_data
                self.echo(
                    f"  ↻ {event.step_key}: step retry in {retry.seconds_to_wait or 0:.0f} s "
                    f"({retry.error.message.strip() if retry.error else 'failed'})"
                )
            if (
                event.event_type == DagsterEventType.STEP_START
                and event.step_key in self.components
            ):
                self.echo(f"  ▶ {event.step_key}")
            elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.event_specific_data.materialization
                component = materialization.asset_key.path[-1]
                if component not in self.components:
                    continue
                record = StepRecord.from_metadata(materialization.metadata)
                code = f" [{record.error_code}]" if record.error_code else ""
                took = f"{(record.duration_ms or 0) / 1000:.1f} s"
                self.echo(
                    f"    {component:<24} {materialization.partition or '':<40} "
                    f"{record.status}{code} {took}"
                )
            elif event.event_type == DagsterEventType.STEP_FAILURE:
                self.echo(f"  ✗ {event.step_key} failed: {_failure_text(event)}")


def _failure_text(event) -> str:
    """A step failure as a person reads it: `[CODE] why` when the run process reported it
    (a lost worker, a silent broker: dp_assets/execution.py), else the error's message."""
    failure = event.event_specific_data
    data = failure.user_failure_data
    if data is not None and data.description and "error_code" in data.metadata:
        return f"[{data.metadata['error_code'].value}] {data.description}"
    return failure.error.message.strip() if failure.error else "failed"


def process_videos(
    instance: DagsterInstance,
    paths: list[str],
    settings: Settings,
    profile: Profile,
    batch_size: int | None,
    echo,
    force: bool = False,
) -> tuple[list[VideoResult], Storage]:
    """Run every video under `paths`; returns one result per input file."""
    for orphan in fail_orphaned_runs(instance):
        echo(f"run {orphan}: its dp process is gone; marked failed")
    # the job the run executes (built once per profile content; step processes and Celery
    # workers rebuild the same from these settings)
    job = process_job(settings.storage_base, settings.profile)
    storage = open_storage(settings.storage_base)
    # storage, the profile's Triton models and the broker answer, or nothing starts
    check_services(profile, storage)
    results: list[VideoResult] = []
    records: dict[str, tuple[UploadRecord, VideoResult]] = {}
    # digests hashed before (files, stored objects), by what their stat / HEAD says
    cache = VerifiedCache(Path(instance.root_directory) / "verified_objects.sqlite")
    for path in collect_videos(paths):
        result = VideoResult(source=str(path))
        results.append(result)
        try:
            record = prepare_upload(Path(path), cache)
        except DpError as exc:
            result.error_code, result.message = exc.code.value, exc.message
            continue
        result.platform, result.video_id = record.platform, record.video_id
        result.partition_key = record.partition_key
        if record.partition_key in records:
            other = records[record.partition_key][0].source_name
            result.error_code = ErrorCode.INPUT_UNSUPPORTED.value
            result.message = f"same platform + video_id as {other}: processed once"
            continue
        records[record.partition_key] = (record, result)
    if not records:
        return results, storage
    # partitions only: the upload record a run reads is reported under the video's lease
    register_partitions(instance, list(records))
    # `dp ui` and the daemon on this home load these settings: the code versions they show
    # are the ones the runs used, and a later profile change shows up as unsynced
    settings.record(instance.root_directory)
    planning = PlanningContext.of(instance, storage, profile, ObjectVerifier(storage, cache))
    size = batch_size or profile.batching.videos_per_run
    # the registration order back to the oldest of these videos: pages of the newest keys,
    # not the whole list (1M partitions: one full read is seconds)
    order = newest_keys_reaching(instance, VIDEOS, set(records))
    batches = plan_batches(list(records), order, size)
    digests = {key: record.source_digest for key, (record, _) in records.items()}
    for number, batch in enumerate(batches, start=1):
        echo(f"batch {number}/{len(batches)} · {len(batch)} video(s)")
        with leased(instance, storage, batch, lease_owner(f"dp process batch {number}"), echo):
            report_uploads(instance, [records[key][0] for key in batch])
            plan = plan_batch(planning, batch, digests, echo, force=force)
            if plan.up_to_date:
                _up_to_date(instance, storage, profile, plan.up_to_date, records, echo)
            for run in plan.runs:
                _run(
                    instance,
                    job,
                    storage,
                    profile,
                    settings,
                    run.keys,
                    run.compute,
                    run.reused,
                    records,
                    echo,
                )
    return results, storage


def _run(instance, job, storage, profile, settings, keys, compute, reused, records, echo):
    """One Dagster run of the `compute` components over `keys`; the rest is reused."""
    invocation = str(uuid.uuid4())
    skipped = len(profile.components) - len(compute)
    echo(
        f"run · {len(keys)} video(s) · {len(compute)} component(s) to compute"
        + (f", {skipped} up to date" if skipped else "")
    )
    tags = {
        **job.tags,
        PROFILE_TAG: settings.profile,
        RANGE_START: keys[0],
        RANGE_END: keys[-1],
        INVOCATION_TAG: invocation,
        **process_tags(),
    }
    # The job's own executor runs it, in step processes or Celery workers, which rebuild the
    # same job from these settings (dp_assets.definitions.process_job), not from their own
    # environment; the multiprocess executor's forkserver builds it once (step_preload).
    os.environ.setdefault(PRELOAD_STORAGE_ENV, settings.storage_base)
    os.environ.setdefault(PRELOAD_PROFILE_ENV, settings.profile)
    reconstructable_job = build_reconstructable_job(
        "dp_assets.definitions",
        "process_job",
        reconstructable_args=(settings.storage_base, settings.profile),
    )
    progress = ProgressPrinter(instance, invocation, compute, echo)
    progress.start()
    try:
        result = execute_job(
            reconstructable_job,
            instance,
            run_config=QUIET_LOGGERS,
            tags=tags,
            asset_selection=[AssetKey(name) for name in compute],
        )
        run_id = progress.run_id = result.run_id
    finally:
        progress.finish()
    echo(f"  run_id {run_id}")
    try:
        manifests = finalize_run(instance, run_id, storage, profile, reused, keys=keys)
    except DpError as exc:  # e.g. storage went away mid-run: report, go on with the next
        # the error names the one video whose records failed; the others say so, not it
        named = [key for key in keys if _video_folder(key, run_id) in exc.message]
        for key in keys:
            result = records[key][1]
            result.run_id, result.error_code = run_id, exc.code.value
            result.message = (
                f"manifest and state not written: {exc.message}"
                if key in named or not named
                else f"manifest and state not written: the storage failed first on {named[0]} "
                f"of the same run ({exc.code.value})"
            )
        return
    for manifest in manifests:
        _, result = records[manifest.video.partition_key]
        _apply_manifest(result, manifest, run_id)
    for marked in mark_failed_videos(
        instance, job, run_id, manifests, {PROFILE_TAG: settings.profile}
    ):
        echo(f"  failed videos marked failed in Dagster by run {marked}")


def _video_folder(partition_key: str, run_id: str) -> str:
    """`<platform>/<video>/<run>`: what every storage key of this video's run holds."""
    return result_prefix(partition_key, run_id).split("/", 1)[1]


def _up_to_date(instance, storage, profile, reused, records, echo):
    """Every component of these videos is up to date: nothing runs; each video's result is
    the manifest of the newest run that made its artifacts (written now if that run died
    before writing it)."""
    for key in reused:
        # the newest reused artifact's run, by when it was made (the run itself may be
        # gone: the event-log retention deletes old runs, dp_assets/retention.py)
        newest = max(reused[key].values(), key=lambda m: m.timestamp).run_id
        echo(f"{key}: up to date (every component reused; newest from run {newest})")
        target = manifest_key(key, newest)
        if storage.exists(target):
            manifest = Manifest.model_validate_json(storage.get_bytes(target))
        else:
            [manifest] = [
                m
                for m in finalize_run(instance, newest, storage, profile, {key: reused[key]})
                if m.video.partition_key == key
            ]
        _, result = records[key]
        _apply_manifest(result, manifest, newest)
        result.reused = len(reused[key])


def _apply_manifest(result: VideoResult, manifest, run_id: str) -> None:
    result.run_id = run_id
    result.status = manifest.run.status
    result.manifest_key = manifest_key(result.partition_key, run_id)
    result.reused = sum(1 for c in manifest.components if c.reused_from_run)
    for component in manifest.components:
        if component.status == "success":
            result.counts["ok"] += 1
        elif component.status in ("empty", "error"):
            result.counts[component.status] += 1
        if (
            component.required
            and component.status in ("error", "skipped")
            and not result.error_code
        ):
            result.error_code = component.error_code.value if component.error_code else None
            result.message = f"{component.name}: {component.error_message}"
