"""`dp verify`'s audit (dp_resources/storage/audit.py) on a hand-built folder storage whose
every byte and digest the test wrote itself: each kind of damage is named once, with its
manifest, component and key; a video's newest manifest is its truth."""

import hashlib
import json

import numpy as np
import pytest

from dp_core.artifact import (
    SOURCE_INPUT,
    Artifact,
    ArtifactMeta,
    ArtifactRef,
    decode_artifact,
    encode_artifact,
)
from dp_core.errors import DpError
from dp_core.manifest import ComponentRecord, Manifest, RunSection, VideoSection
from dp_resources.storage.audit import audit_storage, frames_problems, manifest_keys
from dp_resources.storage.backends import LocalStorage
from dp_resources.storage.verified_objects import ObjectVerifier

pytestmark = pytest.mark.unit
SOURCE = hashlib.sha256(b"the source video").hexdigest()
FRAMES = "frames_dir/local/v/run1"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact_bytes(component: str, run_id: str, inputs=None, **extra) -> bytes:
    meta = ArtifactMeta(
        component=component,
        component_version="1",
        dataprocessor_version="test",
        run_id=run_id,
        platform="local",
        video_id="v",
        status="ok",
        config_hash="c",
        inputs=inputs or {},
        **extra,
    )
    return encode_artifact(Artifact(meta=meta, arrays={"x": np.arange(3)}))


def manifest(run_id, components, finished_at="2026-01-01T00:00:00", source=SOURCE) -> bytes:
    return (
        Manifest(
            run=RunSection(
                run_id=run_id,
                dataprocessor_version="test",
                profile="p",
                config_hash="c",
                analysis={},
                resolved_model_mapping={},
                storage={"kind": "local"},
                started_at="2026-01-01T00:00:00",
                finished_at=finished_at,
                dagster_run_status="SUCCESS",
                status="success",
            ),
            video=VideoSection(
                platform="local", video_id="v", partition_key="local__v", source_digest=source
            ),
            components=[
                ComponentRecord(
                    name=name, required=True, status="success", artifact_key=key, sha256=digest
                )
                for name, key, digest in components
            ],
        )
        .model_dump_json()
        .encode()
    )


@pytest.fixture
def store(tmp_path):
    """One video, one run: a segmenter with a stream (index + 2 chunks) and a plain stream
    file, and a cut_detection artifact made from it. Returns (storage, keys and digests)."""
    storage = LocalStorage(tmp_path / "store")
    chunks = {f"{FRAMES}/dense/{i:05d}.npz": b"chunk %d" % i for i in range(2)}
    for key, data in chunks.items():
        storage.put_bytes(key, data)
    index = json.dumps(
        {"chunks": list(chunks), "chunk_sha256": [sha(d) for d in chunks.values()]}
    ).encode()
    storage.put_bytes(f"{FRAMES}/dense/index.json", index)
    storage.put_bytes(f"{FRAMES}/audio.wav", b"audio")
    digests = {"audio.wav": sha(b"audio"), "dense/index.json": sha(index)}
    seg_key = "result_store/local/v/run1/segmenter.npz"
    seg = artifact_bytes(
        "segmenter",
        "run1",
        inputs={SOURCE_INPUT: ArtifactRef(key="uploads/v.mp4", sha256=SOURCE, run_id="run1")},
        frames_prefix=FRAMES,
        frames_digests=digests,
    )
    storage.put_bytes(seg_key, seg)
    cut_key = "result_store/local/v/run1/cut_detection.npz"
    cut = artifact_bytes(
        "cut_detection",
        "run1",
        inputs={"segmenter": ArtifactRef(key=seg_key, sha256=sha(seg), run_id="run1")},
    )
    storage.put_bytes(cut_key, cut)
    entries = [("segmenter", seg_key, sha(seg)), ("cut_detection", cut_key, sha(cut))]
    storage.put_bytes("result_store/local/v/run1/manifest.json", manifest("run1", entries))
    return storage, {
        "seg": seg_key,
        "cut": cut_key,
        "entries": entries,
        "chunks": list(chunks),
        "index": index,
    }


MANIFEST = "result_store/local/v/run1/manifest.json"


def test_a_whole_storage_verifies_and_counts_what_it_read(store):
    storage, _ = store
    report = audit_storage(storage)
    assert report.ok and report.problems == [] and report.superseded == []
    assert (report.manifests, report.artifacts, report.stream_files) == (1, 2, 4)
    assert report.as_json() == {
        "ok": True,
        "manifests": 1,
        "artifacts": 2,
        "stream_files": 4,
        "problems": [],
        "superseded": [],
    }
    assert list(manifest_keys(storage)) == [MANIFEST]


def test_a_missing_artifact_is_named_with_its_manifest_and_component(store):
    storage, keys = store
    storage.delete(keys["cut"])
    report = audit_storage(storage)
    assert not report.ok
    assert report.problems == [f"{MANIFEST} · cut_detection: {keys['cut']}: missing"]
    assert not report.as_json()["ok"]


def test_changed_artifact_bytes_are_named(store):
    storage, keys = store
    storage.put_bytes(keys["cut"], b"other")
    assert audit_storage(storage).problems == [
        f"{MANIFEST} · cut_detection: {keys['cut']}: sha256 does not match the manifest's"
    ]


def test_an_artifact_that_hashes_right_but_does_not_decode_is_named(store):
    storage, keys = store
    garbage = b"not an npz"
    storage.put_bytes(keys["cut"], garbage)
    entries = [keys["entries"][0], ("cut_detection", keys["cut"], sha(garbage))]
    storage.put_bytes(MANIFEST, manifest("run1", entries))
    [problem] = audit_storage(storage).problems
    assert problem.startswith(f"{MANIFEST} · cut_detection: {keys['cut']}: does not decode (")


def test_a_component_without_a_digest_is_a_problem(store):
    storage, keys = store
    entries = [keys["entries"][0], ("cut_detection", keys["cut"], None)]
    storage.put_bytes(MANIFEST, manifest("run1", entries))
    assert audit_storage(storage).problems == [
        f"{MANIFEST} · cut_detection: no sha256 recorded for {keys['cut']}"
    ]


def test_an_input_changed_after_it_was_read_is_named(store):
    storage, keys = store
    # the segmenter replaced, and the manifest rewritten to match it: only the lineage
    # the cut_detection artifact records tells that it was made from other bytes
    seg = artifact_bytes("segmenter", "run1", frames_prefix=FRAMES, frames_digests={})
    storage.put_bytes(keys["seg"], seg)
    entries = [("segmenter", keys["seg"], sha(seg)), keys["entries"][1]]
    storage.put_bytes(MANIFEST, manifest("run1", entries))
    problems = audit_storage(storage).problems
    assert (
        f"{MANIFEST} · segmenter: frames: {FRAMES}: the segmenter's artifact lists no stream files"
        in problems
    )
    [lineage] = [p for p in problems if "cut_detection" in p]
    assert lineage.startswith(
        f"{MANIFEST} · cut_detection: input segmenter: {keys['seg']}: sha256 "
    )


def test_a_segmenter_made_from_another_source_is_named(store):
    storage, keys = store
    other = sha(b"another file")
    storage.put_bytes(MANIFEST, manifest("run1", keys["entries"], source=other))
    assert audit_storage(storage).problems == [
        f"{MANIFEST} · segmenter: {keys['seg']}: made from source {SOURCE}, manifest says {other}"
    ]
    # a manifest that records no source digest has nothing to compare
    storage.put_bytes(MANIFEST, manifest("run1", keys["entries"], source=None))
    assert audit_storage(storage).ok


def test_a_changed_or_missing_stream_chunk_is_named(store):
    storage, keys = store
    first, second = keys["chunks"]
    storage.put_bytes(first, b"changed")
    storage.delete(second)
    problems = audit_storage(storage).problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{MANIFEST} · segmenter: frames: {first}: sha256 ")
    assert problems[1] == (f"{MANIFEST} · segmenter: frames: {second}: missing from {storage.base}")


def test_a_changed_stream_index_is_named_and_its_chunks_not_trusted(store):
    storage, _ = store
    storage.put_bytes(f"{FRAMES}/dense/index.json", b'{"chunks": []}')
    [problem] = audit_storage(storage).problems
    assert problem.startswith(f"{MANIFEST} · segmenter: frames: {FRAMES}/dense/index.json: sha256 ")


def test_frames_problems_reads_the_index_through_its_digest(store):
    storage, keys = store
    verifier = ObjectVerifier(storage)
    bad_index = b"not json"
    storage.put_bytes(f"{FRAMES}/dense/index.json", bad_index)
    meta = {"frames_prefix": FRAMES, "frames_digests": {"dense/index.json": sha(bad_index)}}
    [problem] = frames_problems(verifier, meta)
    assert problem.startswith(f"{FRAMES}/dense/index.json is not valid JSON")
    # an index that lists chunks without their digests: each chunk has no recorded digest
    index = json.dumps({"chunks": keys["chunks"]}).encode()
    storage.put_bytes(f"{FRAMES}/dense/index.json", index)
    meta["frames_digests"] = {"dense/index.json": sha(index)}
    assert list(frames_problems(verifier, meta)) == [
        f"{chunk}: no recorded digest" for chunk in keys["chunks"]
    ]
    assert list(frames_problems(verifier, {})) == []  # not a segmenter: no frames


def test_an_unreadable_manifest_is_a_problem_and_the_others_still_verify(store):
    storage, _ = store
    storage.put_bytes("result_store/local/w/run1/manifest.json", b"{not json")
    report = audit_storage(storage)
    assert report.manifests == 2 and report.artifacts == 2
    [problem] = report.problems
    assert problem.startswith("result_store/local/w/run1/manifest.json: not a readable manifest (")


def test_an_older_manifest_healed_since_is_superseded_not_a_failure(store):
    storage, keys = store
    storage.delete(keys["cut"])  # run1's cut_detection went bad ...
    cut2 = artifact_bytes(
        "cut_detection",
        "run2",
        inputs={
            "segmenter": ArtifactRef(key=keys["seg"], sha256=keys["entries"][0][2], run_id="run1")
        },
    )
    key2 = "result_store/local/v/run2/cut_detection.npz"
    storage.put_bytes(key2, cut2)  # ... and run2 recomputed it, reusing the segmenter
    newest = "result_store/local/v/run2/manifest.json"
    entries2 = [keys["entries"][0], ("cut_detection", key2, sha(cut2))]
    storage.put_bytes(newest, manifest("run2", entries2, finished_at="2026-01-02T00:00:00"))
    report = audit_storage(storage)
    assert report.ok and report.problems == []
    assert report.superseded == [f"{MANIFEST} · cut_detection: {keys['cut']}: missing"]
    assert report.artifacts == 3  # the reused segmenter is checked once
    # the same manifests with the newest one broken too: every problem fails the audit
    storage.delete(key2)
    report = audit_storage(storage)
    assert report.superseded == []
    assert sorted(report.problems) == sorted(
        [
            f"{MANIFEST} · cut_detection: {keys['cut']}: missing",
            f"{newest} · cut_detection: {key2}: missing",
        ]
    )


def test_the_newest_manifest_is_the_one_written_last_not_listed_last(store):
    storage, keys = store
    # an "a" run listed before run1 but finished after it, with the damage in run1 only
    newer = "result_store/local/v/a-run/manifest.json"
    storage.put_bytes(newer, manifest("a-run", keys["entries"], finished_at="2026-01-03T00:00:00"))
    cut = keys["cut"]
    storage.put_bytes(
        MANIFEST, manifest("run1", [keys["entries"][0], ("cut_detection", cut, "0" * 64)])
    )
    report = audit_storage(storage)
    assert report.ok
    assert report.superseded == [
        f"{MANIFEST} · cut_detection: {cut}: sha256 does not match the manifest's"
    ]


def test_every_component_is_checked_past_skipped_and_undigested_ones(store):
    storage, keys = store
    storage.delete(keys["cut"])
    entries = [
        ("ocr", None, None),  # skipped: no artifact, nothing to check
        ("tempo_extractor", "result_store/local/v/run1/tempo_extractor.npz", None),
        *keys["entries"],
    ]
    storage.put_bytes(MANIFEST, manifest("run1", entries))
    assert audit_storage(storage).problems == [
        f"{MANIFEST} · tempo_extractor: no sha256 recorded for "
        "result_store/local/v/run1/tempo_extractor.npz",
        f"{MANIFEST} · cut_detection: {keys['cut']}: missing",
    ]


def test_each_video_has_its_own_newest_manifest(store):
    """A problem in video v's only manifest fails the audit, however new another video's
    manifest is (superseded means: by a newer manifest of the same video)."""
    storage, keys = store
    storage.delete(keys["cut"])
    other = "result_store/local/w/run9/manifest.json"
    storage.put_bytes(other, manifest("run9", [keys["entries"][0]], finished_at="2026-02-01"))
    report = audit_storage(storage)
    assert report.problems == [f"{MANIFEST} · cut_detection: {keys['cut']}: missing"]
    assert report.superseded == []


def test_an_unreadable_manifest_is_older_than_any_readable_one(store):
    storage, _ = store
    broken = "result_store/local/v/run0/manifest.json"
    storage.put_bytes(broken, b"{not json")
    report = audit_storage(storage)
    assert report.ok and report.problems == []
    [superseded] = report.superseded
    assert superseded.startswith(f"{broken}: not a readable manifest (")


def test_an_undecodable_artifact_names_its_key_and_the_decoder_message_in_200_chars(store):
    storage, keys = store
    long_key = "result_store/local/v/run1/" + "c" * 150 + ".npz"
    garbage = b"not an npz at all"
    storage.put_bytes(long_key, garbage)
    entries = [keys["entries"][0], ("cut_detection", long_key, sha(garbage))]
    storage.put_bytes(MANIFEST, manifest("run1", entries))
    with pytest.raises(DpError) as decoding:
        decode_artifact(garbage, source=long_key)
    assert len(decoding.value.message) > 200
    assert audit_storage(storage).problems == [
        f"{MANIFEST} · cut_detection: {long_key}: does not decode ({decoding.value.message[:200]})"
    ]


def test_a_bad_stream_index_does_not_hide_the_next_streams_problems(store):
    storage, keys = store
    verifier = ObjectVerifier(storage)
    bad_index = b"not json"
    storage.put_bytes(f"{FRAMES}/analysis/index.json", bad_index)
    storage.delete(keys["chunks"][0])
    meta = {
        "frames_prefix": FRAMES,
        "frames_digests": {  # sorted: analysis/ before dense/
            "analysis/index.json": sha(bad_index),
            "dense/index.json": sha(keys["index"]),
        },
    }
    problems = list(frames_problems(verifier, meta))
    assert len(problems) == 2
    assert problems[0].startswith(f"{FRAMES}/analysis/index.json is not valid JSON")
    assert problems[1] == f"{keys['chunks'][0]}: missing from {storage.base}"


def test_an_index_whose_chunks_and_digests_differ_in_number_is_a_problem_not_a_crash(store):
    storage, keys = store
    index = json.dumps({"chunks": keys["chunks"], "chunk_sha256": [sha(b"chunk 0")]}).encode()
    storage.put_bytes(f"{FRAMES}/dense/index.json", index)
    meta = {"frames_prefix": FRAMES, "frames_digests": {"dense/index.json": sha(index)}}
    [problem] = frames_problems(ObjectVerifier(storage), meta)
    assert problem == f"{FRAMES}/dense/index.json: lists 2 chunks but 1 chunk digests"
