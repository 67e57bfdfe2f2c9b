import pytest

from dp_core.errors import DpError, ErrorCode, error_code_of

pytestmark = pytest.mark.unit


def test_taxonomy_is_closed_and_described():
    assert {c.value for c in ErrorCode} == {
        "INPUT_NOT_FOUND",
        "INPUT_CORRUPT",
        "INPUT_UNSUPPORTED",
        "MODEL_NOT_FOUND",
        "MODEL_UNAVAILABLE",
        "MODEL_TIMEOUT",
        "MODEL_BAD_OUTPUT",
        "DEPENDENCY_MISSING",
        "DEPENDENCY_ERROR",
        "STORAGE_ERROR",
        "RESOURCE_EXHAUSTED",
        "CONFIG_INVALID",
        "INTERNAL",
    }
    assert all(code.description for code in ErrorCode)


def test_transient_codes_are_the_retryable_ones():
    transient = {c for c in ErrorCode if c.transient}
    assert transient == {
        ErrorCode.MODEL_UNAVAILABLE,
        ErrorCode.MODEL_TIMEOUT,
        ErrorCode.STORAGE_ERROR,
    }
    assert not ErrorCode.INPUT_CORRUPT.transient


def test_exceptions_map_to_codes():
    assert error_code_of(DpError(ErrorCode.INPUT_CORRUPT, "x")) is ErrorCode.INPUT_CORRUPT
    assert error_code_of(MemoryError()) is ErrorCode.RESOURCE_EXHAUSTED
    assert error_code_of(KeyError("x")) is ErrorCode.INTERNAL
    assert "[INPUT_CORRUPT] bad file" in str(DpError(ErrorCode.INPUT_CORRUPT, "bad file"))
