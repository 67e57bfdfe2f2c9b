"""The uploads sensor: videos landing in the storage bucket become partitions and batched runs.

Every tick lists `<storage base>/<DP_UPLOADS_PREFIX>/`. A new video (by its object key) joins
the pending batch; the batch is launched when it holds `DP_BATCH_MAX_VIDEOS` videos, or when
its first video has waited `DP_BATCH_WAIT_S` seconds. Launching registers the batch's videos
together (one dynamic partition each, plus the runless `upload` event that carries the
sidecar), so they are contiguous in registration order and one partition-range run covers
exactly them. A sidecar (`<name>.json` beside the video) is read at launch, so one that
lands within the wait window is taken into account.

The cursor (stored by Dagster with each tick, so it survives daemon restarts) holds every
upload key already seen that is still in the bucket, the pending keys and when the batch
started waiting. Keys are compared, never modification times: a multipart upload that
becomes visible late is still found, and nothing is registered twice. Deleted uploads drop
out of the cursor; an overwritten key is not seen again (upload a new name to reprocess).
"""

from __future__ import annotations

import base64
import json
import os
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from dp_assets.partitions import VIDEOS, videos_partitions
from dp_assets.run_records import RANGE_END, RANGE_START
from dp_assets.uploads import (
    VIDEO_SUFFIXES,
    UploadRecord,
    sidecar_record_fields,
    source_digest,
    upload_event,
)
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes
from dp_core.identity import video_key
from dp_resources.storage.backends import Storage
from dp_resources.storage.resource import StorageResource

UPLOAD_SENSOR = "register_uploads"
CURSOR_VERSION = 1


@dataclass(frozen=True)
class UploadSensorSettings:
    prefix: str = "uploads"  # storage key prefix the uploads land under
    batch_max_videos: int = 8  # videos per run at most
    batch_wait_s: float = 60.0  # seconds the first pending video waits for company
    interval_s: int = 30  # seconds between sensor ticks

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UploadSensorSettings:
        env = os.environ if env is None else env
        try:
            settings = cls(
                prefix=(env.get("DP_UPLOADS_PREFIX") or cls.prefix).strip("/"),
                batch_max_videos=int(env.get("DP_BATCH_MAX_VIDEOS") or cls.batch_max_videos),
                batch_wait_s=float(env.get("DP_BATCH_WAIT_S") or cls.batch_wait_s),
                interval_s=int(env.get("DP_UPLOADS_SENSOR_INTERVAL_S") or cls.interval_s),
            )
        except ValueError as exc:
            raise DpError(ErrorCode.CONFIG_INVALID, f"uploads sensor settings: {exc}") from exc
        if not settings.prefix or settings.batch_max_videos < 1 or settings.batch_wait_s < 0:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                "DP_UPLOADS_PREFIX must be non-empty, DP_BATCH_MAX_VIDEOS >= 1, "
                "DP_BATCH_WAIT_S >= 0",
            )
        if settings.interval_s < 1:
            raise DpError(ErrorCode.CONFIG_INVALID, "DP_UPLOADS_SENSOR_INTERVAL_S must be >= 1")
        return settings


@dataclass
class UploadCursor:
    seen: set[str] = field(default_factory=set)  # upload keys found so far (pending included)
    pending: list[str] = field(default_factory=list)  # found, not launched yet (found order)
    pending_since: float | None = None  # epoch seconds the oldest pending key was found

    def encode(self) -> str:
        # Sorted keys share long prefixes: zlib keeps the cursor small for large buckets.
        packed = zlib.compress("\n".join(sorted(self.seen)).encode(), 9)
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "seen": base64.b64encode(packed).decode(),
                "pending": self.pending,
                "pending_since": self.pending_since,
            }
        )

    @classmethod
    def decode(cls, text: str | None) -> UploadCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                raise ValueError(f"cursor version {data.get('v')!r}")
            seen = zlib.decompress(base64.b64decode(data["seen"])).decode()
            return cls(
                seen=set(filter(None, seen.split("\n"))),
                pending=list(data["pending"]),
                pending_since=data["pending_since"],
            )
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"uploads sensor cursor unreadable ({exc}); reset it in the Dagster UI "
                "(every upload still in the bucket is then registered again)",
            ) from exc


def is_video_key(key: str) -> bool:
    return PurePosixPath(key).suffix.lower() in VIDEO_SUFFIXES


def sidecar_key(video: str) -> str:
    return str(PurePosixPath(video).with_suffix(".json"))


def remote_upload(storage: Storage, key: str) -> UploadRecord:
    """Identity and sidecar of one upload in the bucket (as `prepare_upload` for a file).
    A broken sidecar is recorded, not raised; an unknown platform is raised."""
    info = storage.head(key)
    size = info.size
    name = PurePosixPath(key).name
    try:
        raw = storage.get_bytes(sidecar_key(key))
    except FileNotFoundError:
        raw = None
    fields, sidecar = sidecar_record_fields(raw, PurePosixPath(sidecar_key(key)).name)
    identity = video_key(sidecar.platform, sidecar.video_id or PurePosixPath(key).stem)
    return UploadRecord(
        partition_key=identity.partition_key,
        platform=identity.platform,
        video_id=identity.video_id,
        source_uri=f"{storage.base.rstrip('/')}/{key}",
        source_name=name,
        size_bytes=size,
        source_digest=source_digest(f"{storage.base.rstrip('/')}/{key}", size, info.version),
        **fields,
    )


def plan_upload_batches(
    cursor: UploadCursor, listed: list[str], now: float, settings: UploadSensorSettings
) -> tuple[UploadCursor, list[list[str]]]:
    """Pure part of a tick: the next cursor and the batches (object keys) to launch now."""
    present = set(listed)
    new = [k for k in listed if is_video_key(k) and k not in cursor.seen]
    pending = [k for k in cursor.pending if k in present] + new
    since = cursor.pending_since if cursor.pending_since is not None and pending else None
    if pending and since is None:
        since = now
    batches: list[list[str]] = []
    size = settings.batch_max_videos
    while len(pending) >= size:
        batches.append(pending[:size])
        pending = pending[size:]
        since = now if pending else None
    if pending and since is not None and now - since >= settings.batch_wait_s:
        batches.append(pending)
        pending, since = [], None
    # Keys that left the bucket are forgotten (bounded cursor); pending ones are kept.
    seen = (cursor.seen & present) | set(new)
    return UploadCursor(seen=seen, pending=pending, pending_since=since), batches


def build_upload_sensor(
    job_name: str,
    run_tags: Mapping[str, str],
    settings: UploadSensorSettings | None = None,
):
    """The sensor over the `storage` resource that launches `job_name` (with `run_tags`)
    per batch."""
    settings = settings or UploadSensorSettings.from_env()

    @sensor(
        name=UPLOAD_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=settings.interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            f"Registers videos uploaded under {settings.prefix}/ and launches runs of up to "
            f"{settings.batch_max_videos} videos (waiting up to {settings.batch_wait_s:g} s)."
        ),
    )
    def register_uploads(context: SensorEvaluationContext, storage: StorageResource):
        store = storage.get_storage()
        cursor = UploadCursor.decode(context.cursor)
        listed = list(store.list(settings.prefix))
        next_cursor, batches = plan_upload_batches(cursor, listed, time.time(), settings)
        if not batches:
            waiting = len(next_cursor.pending)
            return SensorResult(
                skip_reason=SkipReason(f"{waiting} upload(s) waiting for a batch"),
                cursor=next_cursor.encode(),
            )
        return launch_batches(context, store, batches, next_cursor, job_name, run_tags)

    return register_uploads


def launch_batches(
    context: SensorEvaluationContext,
    storage: Storage,
    batches: list[list[str]],
    next_cursor: UploadCursor,
    job_name: str,
    run_tags: Mapping[str, str],
) -> SensorResult:
    """Register each batch's videos (new partitions in batch order) and request its runs."""
    known = set(context.instance.get_dynamic_partitions(VIDEOS))
    new_partitions: list[str] = []
    events, run_requests = [], []
    for batch in batches:
        records: dict[str, UploadRecord] = {}
        for key in batch:
            try:
                record = remote_upload(storage, key)
            except FileNotFoundError:
                context.log.warning(f"upload {key} vanished before its batch started")
                continue
            except DpError as exc:  # e.g. unknown platform: nothing to run for this one
                context.log.warning(f"upload {key} not registered: [{exc.code.value}] {exc}")
                continue
            if record.partition_key in records:
                context.log.warning(
                    f"upload {key}: same video as {records[record.partition_key].source_name}; "
                    "processed once"
                )
                continue
            records[record.partition_key] = record
        fresh = [k for k in records if k not in known]
        again = [k for k in records if k in known]  # a video registered before: its own run
        new_partitions.extend(fresh)
        known.update(fresh)
        events.extend(upload_event(records[k]) for k in records)
        groups = ([fresh] if fresh else []) + [[k] for k in again]
        for keys in groups:
            objects = sorted(records[k].source_uri for k in keys)
            digest = sha256_bytes("\n".join(objects).encode())[:24]
            run_requests.append(
                RunRequest(
                    run_key=f"uploads-{digest}",
                    job_name=job_name,
                    tags={**run_tags, RANGE_START: keys[0], RANGE_END: keys[-1]},
                )
            )
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=(
            [videos_partitions.build_add_request(new_partitions)] if new_partitions else []
        ),
        asset_events=events,
        cursor=next_cursor.encode(),
    )
