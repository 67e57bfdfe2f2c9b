"""dp_core's exact contracts: stored names, error codes and the messages people read.

Written against the survivors of a mutation run (`bash scripts/mutation.sh core`): each test
pins one behaviour that a changed operator, constant or message left unnoticed before.
"""

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from dp_assets.components import catalog
from dp_core.artifact import (
    META_ENTRY,
    Artifact,
    ArtifactMeta,
    ArtifactRef,
    ModelUsed,
    decode_artifact,
    encode_artifact,
    model_signature,
    seal,
    verify_digest,
)
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import (
    canonical_json,
    digest_of_files,
    sha256_bytes,
    sha256_file,
    sha256_json,
)
from dp_core.identity import parse_partition_key, video_key, video_slug
from dp_core.manifest import ComponentRecord, Manifest
from dp_core.profile import PROFILES_DIR, load_profile, parse_profile
from dp_core.sidecar import MAX_SIDECAR_BYTES, parse_sidecar, read_sidecar
from dp_core.state_journal import StateEvent, checkpoint, encode_checkpoint
from dp_core.storage_keys import (
    artifact_key,
    frames_prefix,
    manifest_key,
    result_prefix,
    state_checkpoint_key,
    state_events_key,
    state_prefix,
    validate_key,
    video_prefix,
)
from dp_core.version import dataprocessor_version
from tests.fixtures.artifacts import artifact_meta

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def _error(call, *args, **kwargs) -> DpError:
    with pytest.raises(DpError) as info:
        call(*args, **kwargs)
    return info.value


# --- identity: stored names never change ----------------------------------------------


@pytest.mark.parametrize(
    ("video_id", "slug"),
    [
        ("a b", "a-b-c8687a08aa5d"),
        ("a___b", "a_b-ce178f6c87d9"),
        ("Привет", "id-dd679c0b9fd4"),
        ("-_-", "id-8b0afce4ed2e"),
        ("a-b-c8687a08aa5d", "a-b-c8687a08aa5d-05a6011fe169"),  # a kept id never looks hashed
        ("x" * 80, "x" * 80),  # the longest kept id
        ("x" * 81, "x" * 66 + "-4d1f7bb876c6"),
        ("X y X", "X-y-X-41b29df0d195"),
    ],
)
def test_slugs_of_stored_videos_stay_the_same(video_id, slug):
    """Slugs name partitions and storage prefixes: existing data is found by them."""
    assert video_slug(video_id) == slug


def test_video_id_length_limit_is_512_characters():
    assert video_key("local", "x" * 512).video_id == "x" * 512
    error = _error(video_key, "local", "x" * 513)
    assert error.code is ErrorCode.INPUT_CORRUPT
    assert error.message == "video_id holds a NUL byte or is over 512 characters"
    error = _error(video_key, "local", "   ")
    assert error.message == "video_id must be a non-empty string, got '   '"


def test_unknown_platform_names_the_known_ones():
    error = _error(video_key, "myspace", "x")
    assert error.message == (
        "unknown platform 'myspace'; expected one of local, youtube, tiktok, instagram, vk, rutube"
    )


def test_a_partition_key_splits_at_the_first_separator_only():
    assert parse_partition_key("local__a__b") == ("local", "a__b")
    for bad in ("local", "local__", "myspace__x", "__x"):
        error = _error(parse_partition_key, bad)
        assert error.code is ErrorCode.CONFIG_INVALID
        assert error.message == f"not a video partition key: {bad!r}"


# --- storage keys --------------------------------------------------------------------


def test_every_stored_object_has_its_documented_key():
    key = "youtube__abc"
    assert result_prefix(key, "r1") == "result_store/youtube/abc/r1"
    assert artifact_key(key, "r1", "core_clip") == "result_store/youtube/abc/r1/core_clip.npz"
    assert manifest_key(key, "r1") == "result_store/youtube/abc/r1/manifest.json"
    assert state_prefix(key, "r1") == "state/youtube/abc/r1"
    assert state_events_key(key, "r1") == "state/youtube/abc/r1/state_events.jsonl"
    assert state_checkpoint_key(key, "r1") == "state/youtube/abc/r1/state.json"
    assert frames_prefix(key, "r1") == "frames_dir/youtube/abc/r1"
    assert video_prefix("result_store", key) == "result_store/youtube/abc"
    assert _error(video_prefix, "../x", key).code is ErrorCode.CONFIG_INVALID


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "unsafe storage key ''"),
        ("/abs", "unsafe storage key '/abs'"),
        ("a\\b", "unsafe storage key 'a\\\\b'"),
        ("a/b..c", "unsafe storage key 'a/b..c' (segment 'b..c')"),
        ("a/-b", "unsafe storage key 'a/-b' (segment '-b')"),
    ],
)
def test_an_unsafe_key_is_refused_by_the_first_check_that_sees_it(key, message):
    error = _error(validate_key, key)
    assert error.code is ErrorCode.CONFIG_INVALID and error.message == message


def test_a_run_id_that_would_escape_is_refused():
    assert _error(artifact_key, "local__v", "../x", "c").code is ErrorCode.CONFIG_INVALID
    assert _error(frames_prefix, "local__v", "a/../../b").code is ErrorCode.CONFIG_INVALID


# --- state journal ------------------------------------------------------------------


def test_checkpoint_names_the_run_and_the_latest_state_per_component():
    ts = "2026-01-01T00:00:00+00:00"
    events = [
        StateEvent(run_id="r1", partition_key="local__v", component=c, state=s, ts=ts)
        for c, s in (
            ("segmenter", "running"),
            ("segmenter", "success"),
            ("cut_detection", "running"),
        )
    ]
    state = checkpoint(events, "STARTED")
    assert list(state) == ["run_id", "partition_key", "run_status", "complete", "components"]
    assert (state["run_id"], state["partition_key"], state["run_status"]) == (
        "r1",
        "local__v",
        "STARTED",
    )
    assert state["components"]["segmenter"]["state"] == "success"
    assert not state["complete"]
    assert checkpoint(events[:1], "STARTED")["run_id"] == "r1"  # the first event names the run
    empty = checkpoint([], "QUEUED")
    assert empty["run_id"] is None and empty["partition_key"] is None and empty["complete"]


# --- artifacts -----------------------------------------------------------------------


def test_artifact_refusals_name_what_is_wrong():
    meta = artifact_meta()
    error = _error(encode_artifact, Artifact(meta=meta, arrays={META_ENTRY: np.zeros(1)}))
    assert error.code is ErrorCode.INTERNAL
    assert error.message == f"array name {META_ENTRY!r} is reserved"
    assert _error(decode_artifact, b"x").message.startswith("<bytes> is not a valid NPZ artifact")
    error = _error(decode_artifact, b"not a zip", source="k.npz")
    assert error.code is ErrorCode.INPUT_CORRUPT
    assert error.message.startswith("k.npz is not a valid NPZ artifact: ")
    buffer = __import__("io").BytesIO()
    np.savez_compressed(buffer, x=np.zeros(2))
    error = _error(decode_artifact, buffer.getvalue(), source="k.npz")
    assert error.message == f"k.npz has no {META_ENTRY!r} entry"
    with pytest.raises(ValueError) as raised:
        ArtifactMeta.model_validate({**meta.model_dump(), "status": "error", "error_code": None})
    assert "Value error, an artifact with status 'error' needs an error_code [" in str(raised.value)


def test_the_digest_check_on_read_passes_only_the_recorded_bytes():
    """`verify_digest` is what stands between a changed artifact and the step that reads it."""
    data = encode_artifact(Artifact(meta=artifact_meta(), arrays={"x": np.arange(3)}))
    digest = sha256_bytes(data)
    assert verify_digest(data, digest, "k.npz") is data
    assert verify_digest(data, "", "k.npz") is data  # nothing recorded (older runs)
    assert verify_digest(data, None, "k.npz") is data
    other = data[:-1] + bytes([data[-1] ^ 1])
    error = _error(verify_digest, other, digest, "result_store/local/v/r1/x.npz")
    assert error.code is ErrorCode.INPUT_CORRUPT
    assert error.message == (
        f"result_store/local/v/r1/x.npz does not match the sha256 its writer recorded "
        f"({sha256_bytes(other)[:12]}… != {digest[:12]}…): changed or replaced after it was "
        "written"
    )


def test_seal_records_the_digest_of_exactly_the_bytes_written():
    artifact = seal(Artifact(meta=artifact_meta(run_id="r7"), arrays={"x": np.ones(2)}), "k")
    assert artifact.encoded == encode_artifact(artifact)
    assert artifact.ref == ArtifactRef(key="k", sha256=sha256_bytes(artifact.encoded), run_id="r7")
    assert decode_artifact(artifact.encoded).meta.run_id == "r7"


def test_checkpoint_file_is_indented_json_in_event_order():
    state = {"run_id": "r1", "b": 1, "a": "é"}
    assert encode_checkpoint(state) == json.dumps(state, indent=2).encode("utf-8")
    assert encode_checkpoint(state).decode().splitlines()[1] == '  "run_id": "r1",'


def test_a_manifest_finds_a_component_by_name():
    records = [
        ComponentRecord(name=n, status="success", required=True) for n in ("segmenter", "ocr")
    ]
    manifest = Manifest.model_construct(components=records)
    assert manifest.component("ocr") is records[1]
    with pytest.raises(StopIteration):
        manifest.component("tempo_extractor")


def test_model_signature_is_16_hex_and_ignores_the_verified_flag():
    used = ModelUsed(
        name="m",
        version="1",
        weights_digest="d" * 64,
        engine="onnxruntime",
        precision="fp32",
        device="cpu",
    )
    signature = model_signature([used])
    assert re.fullmatch(r"[0-9a-f]{16}", signature)
    assert signature == sha256_json([used.model_dump(mode="json", exclude={"verified"})])[:16]
    assert model_signature([used.model_copy(update={"verified": True})]) == signature
    assert model_signature([used.model_copy(update={"stand_in": True})]) != signature


# --- hashing -------------------------------------------------------------------------


def test_canonical_json_keeps_text_and_writes_other_values_as_strings():
    value = {"b": "é", "a": Path("/x"), "t": datetime(2026, 1, 2)}
    assert canonical_json(value) == '{"a":"/x","b":"é","t":"2026-01-02 00:00:00"}'
    assert (
        sha256_json({"k": "é"})
        == "0ca09f1dffb485d259fc791100d48ad7ae9c17f52a2bb07b608c0e28fbca34a1"
    )


def test_file_digests_read_in_chunks_equal_the_whole(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 1000)
    import hashlib

    assert sha256_file(path, chunk=1000) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (
        digest_of_files({"f": path})
        == hashlib.sha256(f"f {sha256_file(path)}\n".encode()).hexdigest()
    )


# --- sidecars ------------------------------------------------------------------------


def test_sidecar_size_limit_and_its_messages():
    exactly = b'{"title": "' + b"x" * (MAX_SIDECAR_BYTES - 13) + b'"}'
    assert len(exactly) == MAX_SIDECAR_BYTES
    assert read_sidecar(exactly, "s.json").sidecar.title.startswith("x")
    error = _error(read_sidecar, exactly + b" ", "s.json")
    assert error.code is ErrorCode.RESOURCE_EXHAUSTED
    assert error.message == (
        f"sidecar s.json: {MAX_SIDECAR_BYTES + 1} bytes, over the limit of {MAX_SIDECAR_BYTES}"
    )
    error = _error(read_sidecar, b"[" * 100_000 + b"]" * 100_000, "s.json")
    assert error.code is ErrorCode.INPUT_CORRUPT
    assert error.message == "sidecar s.json: JSON nested too deeply"


def test_sidecar_problems_name_the_file_and_the_field():
    data = json.dumps({"video_id": "v", "tags": [1, {"a": 2}], "title": 5}).encode()
    reading = read_sidecar(data, "s.json")
    assert reading.sidecar.video_id == "v"
    assert "sidecar s.json: tags.1: Input should be a valid string" in reading.problems
    error = _error(parse_sidecar, data, "s.json")
    assert error.code is ErrorCode.INPUT_CORRUPT
    assert error.message == "; ".join(reading.problems)
    assert error.message.count("sidecar s.json: ") == len(reading.problems) >= 2


# --- version -------------------------------------------------------------------------


def test_version_says_dirty_exactly_when_tracked_files_changed():
    dataprocessor_version.cache_clear()
    try:
        version = dataprocessor_version()
    finally:
        dataprocessor_version.cache_clear()
    changed = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.endswith(".dirty") == bool(changed)


# --- profiles ------------------------------------------------------------------------


def _baseline() -> dict:
    return yaml.safe_load((PROFILES_DIR / "cpu_baseline.yaml").read_text())


def test_every_profile_problem_is_named_in_one_message():
    data = _baseline()
    segmenter = data["components"].pop("segmenter")
    data["components"] = {"nope": {}, **data["components"]}  # an unknown one first
    data["components"]["cut_detection"]["device"] = "cuda"
    data["components"]["ocr"]["runtime"] = "triton"
    data["components"]["ocr"]["params"]["engin"] = "x"
    message = _error(parse_profile, data, catalog()).message
    known = f"components.nope: unknown component; known: {', '.join(catalog())}; "
    assert message.startswith(f"profile <profile>: {known}")  # reported, then the others
    problems = message.removeprefix(f"profile <profile>: {known}").split("; ")
    assert "components.cut_detection.device: cuda is not supported (supported: cpu)" in problems
    assert (
        "components.ocr.runtime: triton is not supported (supported: cpu, inprocess, onnxruntime)"
        in problems
    )
    assert "components.ocr.params.engin: Extra inputs are not permitted" in problems
    assert "components.cut_detection: needs 'segmenter', which the profile lacks" in problems
    assert problems[-1] == "components.segmenter: every profile needs the segmenter"
    data["components"] = {"segmenter": segmenter}
    data.update(name="Bad Name", batching={"videos_per_run": 0})
    problems = _error(parse_profile, data, catalog()).message.split("; ")
    assert len(problems) == 2 and problems[0].startswith("profile <profile>: name: ")
    assert problems[1].startswith("batching.videos_per_run: ")
    assert _error(parse_profile, [1], catalog()).message == (
        "profile <profile>: <root>: Input should be a valid dictionary or instance of Profile"
    )


def test_a_profile_file_is_found_by_its_path_whatever_its_suffix(tmp_path):
    text = (PROFILES_DIR / "cpu_baseline.yaml").read_text()
    for name in ("plain", "mine.yml", "mine.yaml"):  # no suffix: found because it exists
        (tmp_path / name).write_text(text)
        assert load_profile(str(tmp_path / name), catalog()).name == "cpu_baseline"
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed")
    error = _error(load_profile, str(bad), catalog())
    assert error.message.startswith("profile bad.yml: not valid YAML: ")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text.replace("name: cpu_baseline", "name: Bad Name"))
    assert _error(load_profile, str(wrong), catalog()).message.startswith("profile wrong.yaml: ")
    available = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
    assert _error(load_profile, "no_such", catalog()).message == (
        f"profile 'no_such' not found (available: {available})"
    )
