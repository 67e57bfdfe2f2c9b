"""`dp verify`: does a storage hold everything its manifests claim?

For every `manifest.json` under `result_store/`: the manifest parses; every artifact it
names is present, hashes to the sha256 it records and decodes; every input an artifact
was computed from (its meta's `inputs`) is present with that digest, and the segmenter's
source digest is the manifest's; every file the segmenter wrote under its frames_dir,
stream chunks included, is present with the digest written. Problems are collected, never
raised, so one bad video does not hide the others.

A video's newest manifest is its truth: a problem there fails the audit. A problem in an
older manifest of a video whose newest one verifies (an artifact that later went bad and
was recomputed by a plain re-run) is reported as superseded, not as a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from dp_core.artifact import SOURCE_INPUT, decode_artifact
from dp_core.errors import DpError
from dp_core.hashing import sha256_bytes
from dp_core.manifest import Manifest
from dp_resources.storage.backends import Storage
from dp_resources.storage.frame_store import read_index
from dp_resources.storage.verified_objects import ObjectVerifier


@dataclass
class AuditReport:
    manifests: int = 0
    artifacts: int = 0
    stream_files: int = 0
    problems: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "manifests": self.manifests,
            "artifacts": self.artifacts,
            "stream_files": self.stream_files,
            "problems": self.problems,
            "superseded": self.superseded,
        }


def manifest_keys(storage: Storage) -> Iterator[str]:
    return (key for key in storage.list("result_store") if key.endswith("/manifest.json"))


def audit_storage(storage: Storage, verifier: ObjectVerifier | None = None) -> AuditReport:
    """Walk every manifest of `storage` (see the module's docstring). Without a cached
    verifier every byte is read and hashed."""
    verifier = verifier or ObjectVerifier(storage)
    report = AuditReport()
    by_video: dict[str, list[tuple[str, Manifest | None, list[str]]]] = {}
    verdicts: dict[tuple[str, str], list[str]] = {}  # a reused artifact is in many manifests
    for key in manifest_keys(storage):
        report.manifests += 1
        video = key.rsplit("/", 2)[0]
        try:
            manifest = Manifest.model_validate_json(storage.get_bytes(key))
        except (ValueError, FileNotFoundError) as exc:
            problem = f"{key}: not a readable manifest ({str(exc)[:200]})"
            by_video.setdefault(video, []).append((key, None, [problem]))
            continue
        problems = []
        for component in manifest.components:
            if not component.artifact_key:
                continue
            where = f"{key} · {component.name}"
            if not component.sha256:
                problems.append(f"{where}: no sha256 recorded for {component.artifact_key}")
                continue
            named = (component.artifact_key, component.sha256)
            if named not in verdicts:
                report.artifacts += 1
                verdicts[named] = _artifact_problems(verifier, *named, manifest, report)
            problems.extend(f"{where}: {problem}" for problem in verdicts[named])
        by_video.setdefault(video, []).append((key, manifest, problems))
    for manifests in by_video.values():
        manifests.sort(key=_written_at)
        *older, (_, _, newest_problems) = manifests
        report.problems.extend(newest_problems)
        for _, _, problems in older:
            (report.superseded if not newest_problems else report.problems).extend(problems)
    return report


def _written_at(entry: tuple[str, Manifest | None, list[str]]) -> str:
    manifest = entry[1]
    return (manifest.run.finished_at or manifest.run.started_at or "") if manifest else ""


def _artifact_problems(
    verifier: ObjectVerifier, key: str, sha256: str, manifest: Manifest, report: AuditReport
) -> list[str]:
    storage = verifier.storage
    try:
        data = storage.get_bytes(key)
    except FileNotFoundError:
        return [f"{key}: missing"]
    if sha256_bytes(data) != sha256:
        return [f"{key}: sha256 does not match the manifest's"]
    try:
        meta = decode_artifact(data, source=key).meta
    except DpError as exc:
        return [f"{key}: does not decode ({exc.message[:200]})"]
    problems = []
    for name, ref in meta.inputs.items():
        if name == SOURCE_INPUT:
            recorded = manifest.video.source_digest
            if recorded and ref.sha256 != recorded:
                problems.append(f"{key}: made from source {ref.sha256}, manifest says {recorded}")
            continue
        problem = verifier.problem(ref.key, ref.sha256)
        if problem is not None:
            problems.append(f"input {name}: {problem}")
    for problem in frames_problems(verifier, meta.model_extra or {}, report):
        problems.append(f"frames: {problem}")
    return problems


def frames_problems(
    verifier: ObjectVerifier, segmenter_meta: dict, report: AuditReport | None = None
) -> Iterator[str]:
    """Every file the segmenter wrote under its frames_dir (its meta's `frames_digests`),
    and every chunk each stream index lists, present with the digest written."""
    prefix, digests = segmenter_meta.get("frames_prefix"), segmenter_meta.get("frames_digests")
    if not prefix:
        return
    if not digests:
        yield f"{prefix}: the segmenter's artifact lists no stream files"
        return
    for name, digest in sorted(digests.items()):
        if report is not None:
            report.stream_files += 1
        problem = verifier.problem(f"{prefix}/{name}", digest)
        if problem is not None:
            yield problem
            continue
        if not name.endswith("/index.json"):
            continue
        try:
            index = read_index(
                verifier.storage, f"{prefix}/{name.removesuffix('/index.json')}", digest
            )
        except DpError as exc:
            yield exc.message
            continue
        chunk_digests = index.get("chunk_sha256") or [""] * len(index["chunks"])
        if len(chunk_digests) != len(index["chunks"]):
            yield (
                f"{prefix}/{name}: lists {len(index['chunks'])} chunks but "
                f"{len(chunk_digests)} chunk digests"
            )
            continue
        for chunk, chunk_digest in zip(index["chunks"], chunk_digests, strict=True):
            if report is not None:
                report.stream_files += 1
            problem = verifier.problem(chunk, chunk_digest)  # chunks are full keys
            if problem is not None:
                yield problem
