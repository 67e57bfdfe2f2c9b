"""The error taxonomy by what it does: codes survive storage, the transient flag decides
retries, and real failures carry the code their cause calls for."""

import pytest
from pydantic import ValidationError

from dp_core.artifact import Artifact, decode_artifact, encode_artifact
from dp_core.errors import DpError, ErrorCode, error_code_of
from dp_core.manifest import ComponentRecord
from dp_core.retry import call_with_retries
from dp_resources.storage.backends import LocalStorage
from tests.fixtures.artifacts import artifact_meta

pytestmark = pytest.mark.unit

RETRIES = 2


def attempts_until_given_up(error: Exception) -> int:
    def fail(attempt: int):
        raise error

    with pytest.raises(type(error)) as raised:
        call_with_retries(fail, retries=RETRIES, backoff_s=0.0, sleep=lambda s: None)
    return raised.value.attempts


def test_every_code_is_described_and_named_by_its_value():
    assert len({c.description for c in ErrorCode}) == len(ErrorCode)
    for code in ErrorCode:
        assert code.description.strip(), code
        assert code.value == code.name and ErrorCode(code.value) is code


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_a_code_round_trips_through_an_artifact_and_a_manifest_record(code):
    meta = artifact_meta(status="error", error_code=code, error_message="why")
    assert decode_artifact(encode_artifact(Artifact(meta, {}))).meta.error_code is code
    record = ComponentRecord(name="c", required=True, status="error", error_code=code)
    assert f'"{code.value}"' in record.model_dump_json()
    assert ComponentRecord.model_validate_json(record.model_dump_json()).error_code is code


def test_a_code_outside_the_taxonomy_is_refused():
    with pytest.raises(ValidationError):
        ComponentRecord(name="c", required=True, status="error", error_code="OOPS")


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_the_transient_flag_decides_whether_a_failure_is_retried(code):
    error = DpError(code, "x")
    assert error.transient is code.transient
    assert attempts_until_given_up(error) == (RETRIES + 1 if code.transient else 1)


def test_a_failed_storage_write_is_retried(tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(DpError) as raised:
        LocalStorage(tmp_path).put_bytes("blocker/obj.npz", b"x")
    assert raised.value.code is ErrorCode.STORAGE_ERROR
    assert attempts_until_given_up(raised.value) == RETRIES + 1


def test_a_corrupt_input_or_a_bug_fails_at_once():
    with pytest.raises(DpError) as raised:
        decode_artifact(b"not an npz at all", source="x.npz")
    assert raised.value.code is ErrorCode.INPUT_CORRUPT
    assert attempts_until_given_up(raised.value) == 1
    assert attempts_until_given_up(KeyError("a bug")) == 1


def test_exceptions_map_to_codes():
    assert error_code_of(DpError(ErrorCode.INPUT_CORRUPT, "x")) is ErrorCode.INPUT_CORRUPT
    assert error_code_of(MemoryError()) is ErrorCode.RESOURCE_EXHAUSTED
    assert error_code_of(KeyError("x")) is ErrorCode.INTERNAL
    assert "[INPUT_CORRUPT] bad file" in str(DpError(ErrorCode.INPUT_CORRUPT, "bad file"))
