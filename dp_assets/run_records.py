"""What a finished run leaves in storage for readers outside Dagster, per video:
the manifest, `state_events.jsonl` and `state.json` — all derived from the run's event log.

One writer: `finalize_run` is called once per run (by `dp process`, or by the run-status
sensor for runs the daemon launched); a manifest that exists already is never rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dagster import DagsterEventType, DagsterInstance

from dp_assets.components import catalog, model_families
from dp_assets.freshness import Materialized
from dp_assets.partitions import VIDEOS
from dp_assets.step_record import StepRecord
from dp_assets.uploads import load_upload
from dp_core.errors import ErrorCode
from dp_core.manifest import (
    ARTIFACT_TO_COMPONENT_STATUS,
    ComponentRecord,
    Manifest,
    RunSection,
    VideoSection,
    video_status,
)
from dp_core.profile import Profile
from dp_core.state_journal import StateEvent, checkpoint, encode_checkpoint, encode_events
from dp_core.storage_keys import manifest_key, state_checkpoint_key, state_events_key
from dp_core.version import dataprocessor_version
from dp_resources.models.registry import manifest_model_mapping
from dp_resources.storage.backends import Storage

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"


def run_partition_keys(
    instance: DagsterInstance, tags: dict, registered: Sequence[str] | None = None
) -> list[str]:
    """The videos a run covered, from its partition tags. `registered`: the partition
    list when the caller read it already (a range is a slice of it)."""
    if PARTITION in tags:
        return [tags[PARTITION]]
    if RANGE_START in tags:
        keys = (
            list(registered) if registered is not None else instance.get_dynamic_partitions(VIDEOS)
        )
        start, end = keys.index(tags[RANGE_START]), keys.index(tags[RANGE_END])
        return keys[start : end + 1]
    return []


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None


@dataclass
class _Progress:
    """Per video and component: the journal so far and the last materialization's record."""

    events: dict[str, list[StateEvent]]
    materialized: dict[tuple[str, str], StepRecord]


def _journal(
    instance: DagsterInstance, run_id: str, keys: list[str], profile: Profile
) -> _Progress:
    components = profile.component_order()
    events: dict[str, list[StateEvent]] = {k: [] for k in keys}
    materialized: dict[tuple[str, str], StepRecord] = {}

    def add(key: str, ts: str, component: str, state: str, code: str | None = None) -> None:
        events[key].append(
            StateEvent(
                ts=ts,
                run_id=run_id,
                partition_key=key,
                component=component,
                state=state,
                error_code=code,
            )
        )

    for record in instance.get_records_for_run(run_id).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        ts = _iso(entry.timestamp)
        if event.event_type == DagsterEventType.RUN_START:
            for key in keys:
                for name in catalog():
                    add(key, ts, name, "waiting" if name in components else "skipped")
        elif event.event_type == DagsterEventType.STEP_START and event.step_key in components:
            for key in keys:
                add(key, ts, event.step_key, "running")
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            component = materialization.asset_key.path[-1]
            key = materialization.partition
            if key not in events or component not in components:
                continue
            record = StepRecord.from_metadata(materialization.metadata)
            materialized[(key, component)] = record
            state = ARTIFACT_TO_COMPONENT_STATUS.get(record.status, "error")
            add(key, ts, component, state, record.error_code or None)
        elif event.event_type == DagsterEventType.STEP_FAILURE and event.step_key in components:
            # a failure the run process reported for a lost step carries its code
            failure = event.event_specific_data.user_failure_data
            code = failure.metadata.get("error_code") if failure else None
            code = str(code.value) if code and str(code.value) in ErrorCode.__members__ else None
            for key in keys:
                if (key, event.step_key) not in materialized:
                    add(key, ts, event.step_key, "error", code or ErrorCode.INTERNAL.value)
    return _Progress(events=events, materialized=materialized)


def _component_record(
    name: str, profile: Profile, progress: _Progress, key: str, reused: Mapping[str, Materialized]
) -> ComponentRecord:
    if name not in profile.components:
        return ComponentRecord(name=name, required=False, status="skipped")
    required = profile.components[name].required
    record = progress.materialized.get((key, name))
    reused_from = None
    if record is None and name in reused:  # up to date from an earlier run, not recomputed
        record, reused_from = reused[name].record, reused[name].run_id
    if record is None:
        last = [e for e in progress.events[key] if e.component == name]
        failed = bool(last) and last[-1].state == "error"
        return ComponentRecord(
            name=name,
            required=required,
            status="error" if failed else "skipped",
            error_code=ErrorCode(last[-1].error_code or "INTERNAL")
            if failed
            else ErrorCode.DEPENDENCY_ERROR,
            error_message="the step failed" if failed else "not run: the run stopped first",
        )
    return record.component_record(name, required, reused_from_run=reused_from)


def finalize_run(
    instance: DagsterInstance,
    run_id: str,
    storage: Storage,
    profile: Profile,
    reused: Mapping[str, Mapping[str, Materialized]] | None = None,
    keys: Sequence[str] | None = None,
) -> list[Manifest]:
    """Write manifest + state journal for every video of a finished run; return the manifests.
    `reused`: per video, the up-to-date artifacts of earlier runs this run did not recompute
    (dp_assets/freshness.py); the manifest lists them with the run that made them.
    `keys`: the run's videos when the caller knows them (else read from its partition tags,
    which for a range means reading the whole partition list)."""
    reused = reused or {}
    run_record = instance.get_run_record_by_id(run_id)
    run = run_record.dagster_run
    keys = list(keys) if keys is not None else run_partition_keys(instance, run.tags)
    progress = _journal(instance, run_id, keys, profile)
    # from the model files, once per run
    model_mapping = manifest_model_mapping(profile, model_families())
    manifests = []
    for key in keys:
        components = [
            _component_record(n, profile, progress, key, reused.get(key, {})) for n in catalog()
        ]
        upload = load_upload(instance, key)
        manifest = Manifest(
            run=RunSection(
                run_id=run_id,
                dataprocessor_version=dataprocessor_version(),
                profile=profile.name,
                config_hash=profile.config_hash,
                analysis=profile.analysis.model_dump(),
                resolved_model_mapping=model_mapping,
                storage=storage.describe(),
                started_at=_iso(run_record.start_time),
                finished_at=_iso(run_record.end_time),
                dagster_run_status=run.status.value,
                status=video_status(components),
            ),
            video=VideoSection(
                platform=upload.platform,
                video_id=upload.video_id,
                partition_key=key,
                source_name=upload.source_name,
                source_digest=upload.source_digest or None,
            ),
            components=components,
        )
        events = progress.events[key]
        storage.put_bytes(state_events_key(key, run_id), encode_events(events))
        state = checkpoint(events, run_status=run.status.value)
        storage.put_bytes(state_checkpoint_key(key, run_id), encode_checkpoint(state))
        target = manifest_key(key, run_id)
        if not storage.exists(target):
            storage.put_bytes(target, manifest.model_dump_json(indent=2).encode())
        manifests.append(manifest)
    return manifests
