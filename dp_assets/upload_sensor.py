"""The uploads sensor: videos landing in the storage bucket become partitions and batched runs.

Every tick lists `<storage base>/<DP_UPLOADS_PREFIX>/`. A new video (by its object key) joins
the pending batch; the batch is launched when it holds `DP_BATCH_MAX_VIDEOS` videos, or when
its first video has waited `DP_BATCH_WAIT_S` seconds. Batches grow with the backlog (issue 25):
while more uploads wait than `max_runs_per_tick` batches of `DP_BATCH_MAX_VIDEOS` hold, the
waiting uploads are spread over `max_runs_per_tick` runs of up to
`DP_BATCH_MAX_VIDEOS_BACKLOG` videos each: fewer, larger runs (a run's fixed cost, ~1-2 s of
the daemon's time to create it, is paid per run, not per video). Launching registers the batch's videos
together (one dynamic partition each, added by the tick in one bulk insert, plus the runless
`upload` event that carries the sidecar), so they are contiguous in registration order and one partition-range run covers
exactly them. A sidecar (`<name>.json` beside the video) is read at launch, so one that
lands within the wait window is taken into account.

Work per tick is bounded, whatever the bucket holds (issue 15: a first tick over 10k
uploads took ~33 min and stored a 1.3 MB cursor each tick). A tick lists at most
`list_per_tick` keys, from where the last one stopped (S3 `StartAfter`; the folder backend
walks in the same order), wrapping to the start once it reaches the end, so every key is
looked at once per sweep and an upload whose name sorts before older ones is still found.
It launches at most `max_runs_per_tick` runs; fuller batches wait for the next tick. The
cursor (stored by Dagster with each tick, surviving daemon restarts) holds only the listing
position, the pending keys (at most `PENDING_CAP_BATCHES` batches: listing pauses while
that many wait) and the keys the previous tick launched (lists of more than a few KB are stored
zlib-compressed: thousands of similar keys per tick shrink ~10x). Which uploads were already taken
is kept in the instance's key-value store (one row per upload, looked up per page): a
key is marked there at the start of the tick after the one that launched it, i.e. once
that tick's runs and cursor are committed, so a tick that fails loses nothing. Keys are
compared, never modification times: a multipart upload that becomes visible late is still
found, and nothing is registered twice. An overwritten key is not seen again (upload a new
name to reprocess).
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dagster import (
    AssetKey,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from dp_assets.leases import LeaseHeld, lease_owner
from dp_assets.partitions import VIDEOS
from dp_assets.planning import PlanningContext, check_services, leased, plan_batch
from dp_assets.run_records import RANGE_END, RANGE_START
from dp_assets.uploads import (
    VIDEO_SUFFIXES,
    UploadRecord,
    report_uploads,
    sidecar_record_fields,
    source_digest,
    upload_event,
)
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes
from dp_core.identity import video_key
from dp_core.profile import Profile
from dp_resources.storage.backends import LocalStorage, Storage
from dp_resources.storage.resource import StorageResource
from dp_resources.storage.verified_objects import ObjectVerifier, VerifiedCache

UPLOAD_SENSOR = "register_uploads"
CURSOR_VERSION = 3
READABLE_CURSOR_VERSIONS = (2, 3)  # 2: lists always plain JSON
COMPRESS_LIST_OVER_BYTES = 4096  # a longer key list is stored zlib-compressed in the cursor
SEEN_KEY_PREFIX = "dp/uploads/seen/"  # + the upload's URI: instance key-value store rows
SEEN_LOOKUP_CHUNK = 500  # keys per key-value store query
PENDING_CAP_BATCHES = 4  # x max_runs_per_tick batches pending at most: listing pauses
BACKLOG_MAX_VIDEOS = 1000  # the profile's batching.videos_per_run bound
UPLOAD_READ_THREADS = 16  # uploads' HEAD + sidecar read at once per tick (I/O bound)


@dataclass(frozen=True)
class UploadSensorSettings:
    prefix: str = "uploads"  # storage key prefix the uploads land under
    batch_max_videos: int = 8  # videos per run at most, while the backlog is small
    batch_max_videos_backlog: int = 500  # videos per run at most under a backlog
    batch_wait_s: float = 60.0  # seconds the first pending video waits for company
    interval_s: int = 30  # seconds between sensor ticks
    max_runs_per_tick: int = 10  # runs requested per tick at most (the rest: next ticks)
    list_per_tick: int = 5000  # keys listed per tick at most (a sweep goes on next tick)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UploadSensorSettings:
        env = os.environ if env is None else env
        try:
            settings = cls(
                prefix=(env.get("DP_UPLOADS_PREFIX") or cls.prefix).strip("/"),
                batch_max_videos=int(env.get("DP_BATCH_MAX_VIDEOS") or cls.batch_max_videos),
                batch_max_videos_backlog=int(
                    env.get("DP_BATCH_MAX_VIDEOS_BACKLOG") or cls.batch_max_videos_backlog
                ),
                batch_wait_s=float(env.get("DP_BATCH_WAIT_S") or cls.batch_wait_s),
                interval_s=int(env.get("DP_UPLOADS_SENSOR_INTERVAL_S") or cls.interval_s),
                max_runs_per_tick=int(
                    env.get("DP_UPLOADS_MAX_RUNS_PER_TICK") or cls.max_runs_per_tick
                ),
                list_per_tick=int(env.get("DP_UPLOADS_LIST_PER_TICK") or cls.list_per_tick),
            )
        except ValueError as exc:
            raise DpError(ErrorCode.CONFIG_INVALID, f"uploads sensor settings: {exc}") from exc
        if not settings.prefix or settings.batch_max_videos < 1 or settings.batch_wait_s < 0:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                "DP_UPLOADS_PREFIX must be non-empty, DP_BATCH_MAX_VIDEOS >= 1, "
                "DP_BATCH_WAIT_S >= 0",
            )
        if not (
            settings.batch_max_videos <= settings.batch_max_videos_backlog <= BACKLOG_MAX_VIDEOS
        ):
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"DP_BATCH_MAX_VIDEOS_BACKLOG must lie between DP_BATCH_MAX_VIDEOS "
                f"({settings.batch_max_videos}) and {BACKLOG_MAX_VIDEOS}",
            )
        if settings.interval_s < 1:
            raise DpError(ErrorCode.CONFIG_INVALID, "DP_UPLOADS_SENSOR_INTERVAL_S must be >= 1")
        if settings.max_runs_per_tick < 1 or settings.list_per_tick < 1:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                "DP_UPLOADS_MAX_RUNS_PER_TICK and DP_UPLOADS_LIST_PER_TICK must be >= 1",
            )
        return settings

    @property
    def pending_cap(self) -> int:
        """Uploads pending at most (listing pauses): a few ticks of small batches, or one
        tick's worth of backlog batches."""
        return max(
            PENDING_CAP_BATCHES * self.max_runs_per_tick * self.batch_max_videos,
            self.max_runs_per_tick * self.batch_max_videos_backlog,
        )

    def batch_size(self, pending: int) -> int:
        """Videos per run for `pending` waiting uploads: `batch_max_videos` while they fit
        in one tick's runs, else spread over `max_runs_per_tick` runs, up to the backlog
        bound."""
        spread = math.ceil(pending / self.max_runs_per_tick)
        return max(self.batch_max_videos, min(spread, self.batch_max_videos_backlog))


@dataclass
class UploadCursor:
    listed_after: str = ""  # the next tick lists keys after this one ("": a new sweep)
    pending: list[str] = field(default_factory=list)  # found, not launched yet (found order)
    pending_since: float | None = None  # epoch seconds the oldest pending key was found
    launched: list[str] = field(default_factory=list)  # launched by the tick that wrote this

    def encode(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "listed_after": self.listed_after,
                "pending": _packed(self.pending),
                "pending_since": self.pending_since,
                "launched": _packed(self.launched),
            }
        )

    @classmethod
    def decode(cls, text: str | None) -> UploadCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") not in READABLE_CURSOR_VERSIONS:
                raise ValueError(f"cursor version {data.get('v')!r}")
            return cls(
                listed_after=str(data["listed_after"]),
                pending=_unpacked(data["pending"]),
                pending_since=data["pending_since"],
                launched=_unpacked(data["launched"]),
            )
        except (ValueError, KeyError, TypeError, zlib.error) as exc:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"uploads sensor cursor unreadable ({exc}); reset it in the Dagster UI "
                "(uploads already taken are remembered by the instance, not the cursor)",
            ) from exc


def _packed(keys: list[str]) -> list[str] | dict[str, str]:
    """A key list as the cursor stores it: plain JSON while short (readable in the UI),
    else {"zlib": base64 of the compressed JSON}."""
    plain = json.dumps(keys)
    if len(plain) <= COMPRESS_LIST_OVER_BYTES:
        return keys
    return {"zlib": base64.b64encode(zlib.compress(plain.encode(), 9)).decode()}


def _unpacked(value) -> list[str]:
    if isinstance(value, dict):
        value = json.loads(zlib.decompress(base64.b64decode(value["zlib"])))
    if not isinstance(value, list):
        raise ValueError(f"a key list, not {type(value).__name__}")
    return [str(key) for key in value]


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
        source_digest=source_digest(
            f"{storage.base.rstrip('/')}/{key}",
            size,
            info.version,
            content_version=not isinstance(storage, LocalStorage),  # S3: the ETag
        ),
        **fields,
    )


def plan_upload_batches(
    cursor: UploadCursor, new: list[str], now: float, settings: UploadSensorSettings
) -> tuple[UploadCursor, list[list[str]]]:
    """Pure part of a tick: with the `new` video keys found, the batches (object keys) to
    launch now (at most `max_runs_per_tick`) and the next cursor (listing position kept)."""
    pending = cursor.pending + [k for k in new if k not in cursor.pending]
    since = cursor.pending_since if cursor.pending_since is not None and pending else None
    if pending and since is None:
        since = now
    batches: list[list[str]] = []
    size = settings.batch_size(len(pending))
    while len(pending) >= size and len(batches) < settings.max_runs_per_tick:
        batches.append(pending[:size])
        pending = pending[size:]
        since = now if pending else None
    waited = since is not None and now - since >= settings.batch_wait_s
    if pending and waited and len(batches) < settings.max_runs_per_tick:
        batches.append(pending[:size])
        pending = pending[size:]
        since = None if not pending else since
    launched = [key for batch in batches for key in batch]
    return UploadCursor(cursor.listed_after, pending, since, launched), batches


def seen_key(storage: Storage, key: str) -> str:
    return f"{SEEN_KEY_PREFIX}{storage.base.rstrip('/')}/{key}"


def record_launched(instance, storage: Storage, keys: list[str]) -> None:
    """Mark uploads as taken (their runs were requested by a committed tick)."""
    if keys:
        now = str(time.time())
        instance.run_storage.set_cursor_values({seen_key(storage, k): now for k in keys})


def unseen(instance, storage: Storage, keys: list[str]) -> list[str]:
    """The keys no earlier tick launched, in their order (one query per chunk)."""
    taken: set[str] = set()
    for start in range(0, len(keys), SEEN_LOOKUP_CHUNK):
        chunk = {seen_key(storage, k): k for k in keys[start : start + SEEN_LOOKUP_CHUNK]}
        taken.update(chunk[k] for k in instance.run_storage.get_cursor_values(set(chunk)))
    return [k for k in keys if k not in taken]


def find_new_uploads(
    instance, storage: Storage, cursor: UploadCursor, settings: UploadSensorSettings
) -> tuple[str, list[str]]:
    """One page of the sweep: (the next listing position, new video keys in it). Listing
    pauses while the pending batches are at their cap."""
    room = settings.pending_cap - len(cursor.pending)
    if room <= 0:
        return cursor.listed_after, []
    page = storage.list_page(settings.prefix, cursor.listed_after, settings.list_per_tick)
    after = page[-1] if len(page) == settings.list_per_tick else ""  # "": sweep again
    waiting = set(cursor.pending) | set(cursor.launched)
    new = unseen(instance, storage, [k for k in page if is_video_key(k) and k not in waiting])
    if len(new) > room:  # the pending batches are full: the sweep resumes after the last taken
        new, after = new[:room], new[room - 1]
    return after, new


def build_upload_sensor(
    job_name: str,
    run_tags: Mapping[str, str],
    settings: UploadSensorSettings | None = None,
    preflight: Callable[[Storage], None] | None = None,
    profile: Profile | None = None,
):
    """The sensor over the `storage` resource that launches `job_name` (with `run_tags`)
    per batch. With `profile`, it goes through the planner (dp_assets/planning.py) as `dp
    process` does: the services the runs need must answer (else the tick launches nothing,
    says why, and keeps every upload pending), and a video registered before is planned
    under its lease (held by another writer: it waits for a later tick) with what is up to
    date in the storage reused. `preflight(storage)`: an extra check raising a `DpError`."""
    settings = settings or UploadSensorSettings.from_env()
    checks = [check for check in (preflight,) if check is not None]
    if profile is not None:
        checks.insert(0, lambda store: check_services(profile, store))

    @sensor(
        name=UPLOAD_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=settings.interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            f"Registers videos uploaded under {settings.prefix}/ and launches runs of up to "
            f"{settings.batch_max_videos} videos (waiting up to {settings.batch_wait_s:g} s), "
            f"up to {settings.batch_max_videos_backlog} under a backlog."
        ),
    )
    def register_uploads(context: SensorEvaluationContext, storage: StorageResource):
        store = storage.get_storage()
        cursor = UploadCursor.decode(context.cursor)
        # the previous tick is committed (runs requested, cursor stored): mark its uploads
        record_launched(context.instance, store, cursor.launched)
        cursor.launched = []
        cursor.listed_after, new = find_new_uploads(context.instance, store, cursor, settings)
        next_cursor, batches = plan_upload_batches(cursor, new, time.time(), settings)
        if not batches:
            waiting = len(next_cursor.pending)
            return SensorResult(
                skip_reason=SkipReason(f"{waiting} upload(s) waiting for a batch"),
                cursor=next_cursor.encode(),
            )
        try:
            for check in checks:
                check(store)
        except DpError as exc:
            kept = [key for batch in batches for key in batch] + next_cursor.pending
            next_cursor.pending, next_cursor.launched = kept, []
            next_cursor.pending_since = next_cursor.pending_since or time.time()
            return SensorResult(
                skip_reason=SkipReason(
                    f"[{exc.code.value}] {exc.message}: {len(kept)} upload(s) wait, no run launched"
                ),
                cursor=next_cursor.encode(),
            )
        return launch_batches(context, store, batches, next_cursor, job_name, run_tags, profile)

    return register_uploads


def launch_batches(
    context: SensorEvaluationContext,
    storage: Storage,
    batches: list[list[str]],
    next_cursor: UploadCursor,
    job_name: str,
    run_tags: Mapping[str, str],
    profile: Profile | None = None,
) -> SensorResult:
    """Register each batch's videos (new partitions in batch order) and request its runs;
    videos registered before go through the planner when `profile` is given."""
    planning = None
    new_partitions: list[str] = []
    known: set[str] = set()  # registered earlier in this tick
    events, run_requests = [], []
    reads = _read_uploads(context.instance, storage, [key for batch in batches for key in batch])
    for batch in batches:
        records: dict[str, UploadRecord] = {}
        registered_before: set[str] = set()
        for key in batch:
            read = reads[key]
            if isinstance(read, FileNotFoundError):
                context.log.warning(f"upload {key} vanished before its batch started")
                continue
            if isinstance(read, DpError):  # e.g. unknown platform: nothing to run for it
                context.log.warning(f"upload {key} not registered: [{read.code.value}] {read}")
                continue
            record, registered = read
            if registered:
                registered_before.add(record.partition_key)
            if record.partition_key in records:
                context.log.warning(
                    f"upload {key}: same video as {records[record.partition_key].source_name}; "
                    "processed once"
                )
                continue
            records[record.partition_key] = record
        registered = {k for k in records if k in known or k in registered_before}
        fresh = [k for k in records if k not in registered]
        again = [k for k in records if k in registered]  # registered before: its own run
        new_partitions.extend(fresh)
        known.update(fresh)
        if profile is not None and again:
            if planning is None:
                cache = VerifiedCache(
                    Path(context.instance.root_directory) / "verified_objects.sqlite"
                )
                planning = PlanningContext.of(
                    context.instance, storage, profile, ObjectVerifier(storage, cache)
                )
            for key in again:
                request = _planned_request(context, planning, records[key], job_name, run_tags)
                if request is False:  # leased by another writer: try again next tick
                    upload = _upload_key(records[key], storage)
                    next_cursor.launched.remove(upload)
                    next_cursor.pending.append(upload)
                    next_cursor.pending_since = next_cursor.pending_since or time.time()
                elif request is not None:
                    run_requests.append(request)
            again = []
            records = {k: r for k, r in records.items() if k in fresh}
        events.extend(upload_event(records[k]) for k in records)
        groups = ([fresh] if fresh else []) + [[k] for k in again]
        for keys in groups:
            run_requests.append(
                RunRequest(
                    run_key=_run_key([records[k] for k in keys]),
                    job_name=job_name,
                    tags={**run_tags, RANGE_START: keys[0], RANGE_END: keys[-1]},
                )
            )
    if new_partitions:
        # one bulk insert here, not `SensorResult(dynamic_partitions_requests=...)`: the
        # daemon checks such a request's keys one query each (~14 ms of CPU per video).
        # Safe: should the tick not commit, the next one finds these uploads unseen and
        # their videos registered, and runs them as videos registered before (one run each)
        context.instance.add_dynamic_partitions(VIDEOS, new_partitions)
    return SensorResult(run_requests=run_requests, asset_events=events, cursor=next_cursor.encode())


def _read_uploads(instance, storage: Storage, keys: list[str]) -> dict:
    """Each upload's (record, whether its video is registered), or the FileNotFoundError /
    DpError reading it raised. A HEAD and a sidecar read per upload, `UPLOAD_READ_THREADS`
    at once (S3 round trips wait, they do not compute: thousands per tick take seconds in
    threads, minutes one by one); the registered videos in one bulk query."""

    def read(key: str):
        try:
            return remote_upload(storage, key)
        except (FileNotFoundError, DpError) as exc:
            return exc

    if len(keys) <= 1:
        reads = {key: read(key) for key in keys}
    else:
        with ThreadPoolExecutor(max_workers=UPLOAD_READ_THREADS) as pool:
            reads = dict(zip(keys, pool.map(read, keys), strict=True))
    records = [r for r in reads.values() if isinstance(r, UploadRecord)]
    existing = (
        instance.get_existing_dynamic_partitions(VIDEOS, [r.partition_key for r in records])
        if records
        else set()
    )
    return {
        key: (r, r.partition_key in existing) if isinstance(r, UploadRecord) else r
        for key, r in reads.items()
    }


def _upload_key(record: UploadRecord, storage: Storage) -> str:
    return record.source_uri.removeprefix(storage.base.rstrip("/") + "/")


def _run_key(records: list[UploadRecord]) -> str:
    objects = sorted(record.source_uri for record in records)
    return f"uploads-{sha256_bytes(chr(10).join(objects).encode())[:24]}"  # chr(10): newline


def _planned_request(
    context: SensorEvaluationContext,
    planning: PlanningContext,
    record: UploadRecord,
    job_name: str,
    run_tags: Mapping[str, str],
) -> RunRequest | bool | None:
    """A video registered before, planned as `dp process` plans it: under its lease, its
    upload reported (the record its run reads) and its up-to-date components reused. The
    run request computes the rest; None when everything is up to date; False when another
    writer holds the lease."""
    key = record.partition_key
    owner = lease_owner(f"uploads sensor tick ({record.source_name})")
    try:
        with leased(context.instance, planning.storage, [key], owner, context.log.info, wait=False):
            report_uploads(context.instance, [record])
            plan = plan_batch(planning, [key], {key: record.source_digest}, context.log.warning)
    except LeaseHeld as held:
        context.log.warning(f"upload {record.source_name}: {held}; it waits for a later tick")
        return False
    if plan.up_to_date:
        context.log.info(f"{key}: up to date (every component reused): no run")
        return None
    [run] = plan.runs
    return RunRequest(
        run_key=_run_key([record]),
        job_name=job_name,
        asset_selection=[AssetKey(name) for name in run.compute],
        tags={**run_tags, RANGE_START: key, RANGE_END: key},
    )
