"""Registering videos: one dynamic partition each, plus an `upload` record in the event log.

The `upload` asset is external (nothing computes it): registration reports a runless
materialization of it per video, carrying where the file is and what its sidecar said.
The segmenter reads the latest one; the Dagster UI shows it as the video's origin.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from dagster import AssetKey, AssetMaterialization, AssetRecordsFilter, AssetSpec, DagsterInstance

from dp_assets.partitions import VIDEOS, videos_partitions
from dp_core.artifact import SOURCE_INPUT
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file, sha256_json
from dp_core.identity import video_key
from dp_core.sidecar import Sidecar, read_sidecar, sidecar_path
from dp_resources.storage.backends import Storage
from dp_resources.storage.verified_objects import VerifiedCache

UPLOAD = AssetKey("upload")
upload_spec = AssetSpec(
    UPLOAD,
    partitions_def=videos_partitions,
    group_name="inputs",
    description="A registered video file and its sidecar (reported when a video is registered).",
)
# Media a folder scan picks up; audio-only files are processed too (video parts `empty`).
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".3gp"}
    | {".m4a", ".mp3", ".wav", ".aac", ".flac", ".ogg", ".opus"}
)


UPLOAD_INPUT = SOURCE_INPUT  # the segmenter's lineage entry for the source file


@dataclass(frozen=True)
class UploadRecord:
    partition_key: str
    platform: str
    video_id: str
    source_uri: str
    source_name: str
    size_bytes: int
    sidecar: dict | None = None  # its valid fields
    sidecar_error_code: str | None = None
    sidecar_error: str | None = None
    sidecar_problems: tuple[str, ...] = ()  # one per refused field, naming it
    # which content this is: `sha256:<hex>` of a local file's bytes (S3 uploads: their
    # ETag); a replaced file or the same id from another file is a new version of the
    # video, segmented again, never mixed with the old one's artifacts
    source_digest: str = ""

    @property
    def source_path(self) -> Path:
        if not self.source_uri.startswith("file://"):
            raise DpError(ErrorCode.INPUT_UNSUPPORTED, f"cannot open {self.source_uri!r} locally")
        return Path(self.source_uri.removeprefix("file://"))


def collect_videos(paths: list[str]) -> list[Path]:
    """Video files named directly, plus those inside named folders (sorted, recursive)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                )
            )
        else:
            found.append(path)
    return found


def prepare_upload(path: Path, digests: VerifiedCache | None = None) -> UploadRecord:
    """Identity, content digest and sidecar of one local file. A broken sidecar is recorded,
    not raised: only the components that read it fail. An unknown platform is raised
    (nothing runs). `digests` remembers file digests by path, size, mtime, ctime and inode,
    so an unchanged file is hashed once."""
    path = path.expanduser().absolute()
    if not path.is_file():
        raise DpError(ErrorCode.INPUT_NOT_FOUND, f"{path.name}: file not found")
    side = sidecar_path(path)
    fields, sidecar = sidecar_record_fields(
        side.read_bytes() if side.is_file() else None, side.name
    )
    key = video_key(sidecar.platform, sidecar.video_id or path.stem)
    return UploadRecord(
        partition_key=key.partition_key,
        platform=key.platform,
        video_id=key.video_id,
        source_uri=f"file://{path}",
        source_name=path.name,
        size_bytes=path.stat().st_size,
        source_digest=file_content_digest(path, digests),
        **fields,
    )


def file_content_digest(path: Path, digests: VerifiedCache | None = None) -> str:
    """`sha256:<hex>` of a local file's bytes (cached by its stat, see prepare_upload)."""
    stat = path.stat()
    version = f"{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"
    known = digests.known("file", str(path), stat.st_size, version) if digests else None
    if known is None:
        known = sha256_file(path)
        if digests is not None:
            digests.remember("file", str(path), stat.st_size, version, known)
    return f"sha256:{known}"


def source_digest(uri: str, size: int, version: object, content_version: bool) -> str:
    """Identity of an upload's content without downloading it. `content_version`: the
    version is a digest of the bytes (an S3 ETag), so the same bytes uploaded under another
    key are the same source (their artifacts are reused); otherwise (a folder's
    mtime:ctime:inode) the object's place is part of it. The segmenter records the sha256
    it reads."""
    where = {} if content_version else {"uri": uri}
    return sha256_json({**where, "size": size, "version": str(version)})[:32]


def sidecar_record_fields(raw: bytes | None, source: str) -> tuple[dict, Sidecar]:
    """The UploadRecord's sidecar fields from a sidecar's bytes (None: there is none), and
    the sidecar whose identity fields name the video. Unreadable (not UTF-8, not a JSON
    object): nothing kept, INPUT_CORRUPT for the components that read it. A field of the
    wrong type: that field dropped and named (a warning in the manifest, INPUT_CORRUPT for
    the text components), every valid field kept, `video_id` above all."""
    if raw is None:
        return {}, Sidecar()
    try:
        reading = read_sidecar(raw, source)
    except DpError as exc:
        return {"sidecar_error_code": exc.code.value, "sidecar_error": exc.message}, Sidecar()
    fields: dict = {"sidecar": reading.sidecar.model_dump(mode="json")}
    if reading.problems:
        fields.update(
            sidecar_error_code=ErrorCode.INPUT_CORRUPT.value,
            sidecar_error="; ".join(reading.problems),
            sidecar_problems=reading.problems,
        )
    return fields, reading.sidecar


def register_uploads(instance: DagsterInstance, records: list[UploadRecord]) -> None:
    """Add each video's partition (new keys in the given order) and report its upload."""
    register_partitions(instance, [r.partition_key for r in records])
    report_uploads(instance, records)


def register_partitions(instance: DagsterInstance, partition_keys: list[str]) -> None:
    """Add the partitions not yet known, in the given order (a range run covers keys
    contiguous in that order)."""
    # one indexed lookup per video, not the whole partition list (100k+ keys)
    keys = dict.fromkeys(partition_keys)
    new_keys = [key for key in keys if not instance.has_dynamic_partition(VIDEOS, key)]
    if new_keys:
        instance.add_dynamic_partitions(VIDEOS, new_keys)


def report_uploads(instance: DagsterInstance, records: list[UploadRecord]) -> None:
    """Make each record the one its video's next run reads. Call it under the videos'
    lease (dp_assets/leases.py): a record replaced by another writer mid-run would feed
    that run another file."""
    for record in records:
        instance.report_runless_asset_event(upload_event(record))


def upload_event(record: UploadRecord) -> AssetMaterialization:
    """The runless `upload` materialization that registers one video (read by load_upload)."""
    return AssetMaterialization(
        asset_key=UPLOAD,
        partition=record.partition_key,
        description=f"registered {record.source_name}",
        metadata={
            "record": json.dumps(asdict(record)),
            "source_name": record.source_name,
            "size_bytes": record.size_bytes,
            "video_id": record.video_id,
            "platform": record.platform,
        },
    )


@contextmanager
def local_source(record: UploadRecord, storage: Storage) -> Iterator[Path]:
    """A local path to the video: the file itself (`file://`), or a temporary download of an
    upload in the storage bucket (`s3://`, under the storage base), removed afterwards."""
    if record.source_uri.startswith("file://"):
        yield record.source_path
        return
    prefix = storage.base.rstrip("/") + "/"
    if not record.source_uri.startswith(prefix):
        raise DpError(
            ErrorCode.INPUT_UNSUPPORTED,
            f"cannot open {record.source_uri!r}: uploads must lie under the storage base "
            f"{storage.base}",
        )
    key = record.source_uri.removeprefix(prefix)
    with tempfile.TemporaryDirectory(prefix="dp-upload-") as folder:
        path = Path(folder) / Path(key).name
        storage.get_file(key, path)  # streamed: a video may not fit in memory
        yield path


def load_upload(instance: DagsterInstance, partition_key: str) -> UploadRecord:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=UPLOAD, asset_partitions=[partition_key]), limit=1
    ).records
    if not records:
        raise DpError(ErrorCode.INPUT_NOT_FOUND, f"video {partition_key!r} was never registered")
    metadata = records[0].asset_materialization.metadata
    fields = json.loads(metadata["record"].value)
    fields["sidecar_problems"] = tuple(fields.get("sidecar_problems") or ())
    return UploadRecord(**fields)
