"""One typed record for what a step reports per video: written as Dagster metadata, read back
the same, and older events (every key, empty strings, input digests as a JSON string) read."""

import json

import pytest
from dagster import MetadataValue

from dp_assets.step_record import StepRecord
from dp_core.artifact import Artifact, ArtifactMeta, ArtifactRef, seal
from dp_core.errors import ErrorCode

pytestmark = pytest.mark.unit

DIGEST = "a" * 64


def sealed(status="ok", error_code=None, message=None) -> Artifact:
    meta = ArtifactMeta(
        component="color_dynamics",
        component_version="1",
        dataprocessor_version="0",
        run_id="run-1",
        platform="local",
        video_id="v",
        status=status,
        error_code=error_code,
        error_message=message,
        config_hash="h",
        duration_ms=12.5,
        device_used="cpu",
        warnings=["few frames"],
        inputs={"segmenter": ArtifactRef(key="result_store/s.npz", sha256=DIGEST, run_id="r0")},
    )
    artifact = Artifact(meta=meta, arrays={})
    seal(artifact, "result_store/local/v/run-1/color_dynamics.npz")
    return artifact


def test_a_record_reads_back_from_its_own_metadata():
    artifact = sealed()
    record = StepRecord.of_artifact(artifact, fingerprint="f" * 16)
    assert record.artifact_key == "result_store/local/v/run-1/color_dynamics.npz"
    assert record.sha256 == artifact.ref.sha256 and len(record.sha256) == 64
    metadata = record.to_metadata()
    # the UI's entries on their own, what reuse and the manifest read in one JSON entry
    assert set(metadata) == {"status", "artifact_key", "sha256", "lineage"}
    assert metadata["lineage"].value["fingerprint"] == "f" * 16
    assert StepRecord.from_metadata(metadata) == record
    assert record.input_sha256 == {"segmenter": DIGEST}
    assert record.duration_ms == 12.5 and record.warnings == ("few frames",)


def test_empty_fields_are_left_out_of_the_event_and_read_back_empty():
    record = StepRecord(status="ok", artifact_key="k", sha256=DIGEST)
    metadata = record.to_metadata()
    assert set(metadata) == {"status", "artifact_key", "sha256"}
    assert StepRecord.from_metadata(metadata) == record


def test_a_zero_duration_is_kept():
    record = StepRecord(status="empty", artifact_key="k", sha256=DIGEST, duration_ms=0.0)
    assert StepRecord.from_metadata(record.to_metadata()).duration_ms == 0.0


def test_an_error_record_carries_its_code_and_message_to_the_manifest_and_check():
    record = StepRecord.of_artifact(
        sealed("error", ErrorCode.INPUT_CORRUPT, "bad chunk"), fingerprint="f"
    )
    assert record.to_metadata()["error_code"] == "INPUT_CORRUPT"
    assert record.check_metadata() == {
        "status": "error",
        "error_code": "INPUT_CORRUPT",
        "error": "bad chunk",
    }
    component = record.component_record("color_dynamics", required=True)
    assert component.status == "error" and component.error_code is ErrorCode.INPUT_CORRUPT
    assert component.error_message == "bad chunk" and component.sha256 == record.sha256
    assert not record.reusable_status


def test_an_older_event_with_every_key_and_json_string_inputs_reads():
    older = {
        "status": MetadataValue.text("ok"),
        "error_code": MetadataValue.text(""),
        "artifact_key": MetadataValue.text("k"),
        "sha256": MetadataValue.text(DIGEST),
        "fingerprint": MetadataValue.text("f"),
        "input_sha256": json.dumps({"segmenter": DIGEST}),
        "duration_ms": MetadataValue.float(3.0),
        "device_used": MetadataValue.text("cpu"),
        "model_signature": MetadataValue.text(""),
        "warnings": MetadataValue.json([]),
        "preview": MetadataValue.md("![p](data:image/png;base64,AAAA)"),
    }
    record = StepRecord.from_metadata(older)
    assert record == StepRecord(
        status="ok",
        artifact_key="k",
        sha256=DIGEST,
        fingerprint="f",
        input_sha256={"segmenter": DIGEST},
        duration_ms=3.0,
        device_used="cpu",
    )
    assert record.reusable_status
    assert record.component_record("c", required=False).error_code is None


def test_a_record_without_status_is_an_error_never_reused():
    record = StepRecord.from_metadata({"artifact_key": "k", "sha256": DIGEST})
    assert record.status == "error" and not record.reusable_status


def test_a_retained_copy_names_the_run_and_time_that_made_it():
    record = StepRecord(status="ok", artifact_key="k", sha256=DIGEST)
    copy = StepRecord(
        status="ok", artifact_key="k", sha256=DIGEST, made_by_run="r1", made_at=1700000000.5
    )
    read = StepRecord.from_metadata(copy.to_metadata())
    assert (read.made_by_run, read.made_at) == ("r1", 1700000000.5)
    assert "made_by_run" not in record.to_metadata()
