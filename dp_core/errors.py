"""The closed error taxonomy: every failure the platform reports carries one `ErrorCode`.

Transient codes are worth retrying (with backoff); permanent ones fail at once.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INPUT_NOT_FOUND = "INPUT_NOT_FOUND"
    INPUT_CORRUPT = "INPUT_CORRUPT"
    INPUT_UNSUPPORTED = "INPUT_UNSUPPORTED"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    MODEL_UNAVAILABLE = "MODEL_UNAVAILABLE"
    MODEL_TIMEOUT = "MODEL_TIMEOUT"
    MODEL_BAD_OUTPUT = "MODEL_BAD_OUTPUT"
    DEPENDENCY_MISSING = "DEPENDENCY_MISSING"
    DEPENDENCY_ERROR = "DEPENDENCY_ERROR"
    STORAGE_ERROR = "STORAGE_ERROR"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    CONFIG_INVALID = "CONFIG_INVALID"
    INTERNAL = "INTERNAL"

    @property
    def transient(self) -> bool:
        return self in _TRANSIENT

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_TRANSIENT = frozenset(
    {
        ErrorCode.MODEL_UNAVAILABLE,
        ErrorCode.MODEL_TIMEOUT,
        ErrorCode.STORAGE_ERROR,
    }
)

_DESCRIPTIONS = {
    ErrorCode.INPUT_NOT_FOUND: "the input file or object does not exist",
    ErrorCode.INPUT_CORRUPT: "the input exists but cannot be decoded or parsed",
    ErrorCode.INPUT_UNSUPPORTED: "the input is valid but outside what the platform handles",
    ErrorCode.MODEL_NOT_FOUND: "the model named by the profile is not installed or not in the repository",
    ErrorCode.MODEL_UNAVAILABLE: "the model server or runtime is not reachable or not ready",
    ErrorCode.MODEL_TIMEOUT: "the model did not answer in time",
    ErrorCode.MODEL_BAD_OUTPUT: "the model answered with outputs of the wrong shape, type or range",
    ErrorCode.DEPENDENCY_MISSING: "a library, device or upstream artifact this component needs is absent",
    ErrorCode.DEPENDENCY_ERROR: "an upstream component this one needs failed",
    ErrorCode.STORAGE_ERROR: "reading or writing the storage backend failed",
    ErrorCode.RESOURCE_EXHAUSTED: "the input needs more memory, disk or time than the configured limits",
    ErrorCode.CONFIG_INVALID: "the profile or configuration is invalid",
    ErrorCode.INTERNAL: "a bug: an unexpected exception inside the platform",
}


class DpError(Exception):
    """The one exception type of the platform: a message a user can act on, plus its code."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(f"[{code.value}] {message}")
        self.code = code
        self.message = message

    @property
    def transient(self) -> bool:
        return self.code.transient


def error_code_of(exc: BaseException) -> ErrorCode:
    """The code an exception maps to; anything that is not a DpError is a bug (INTERNAL)."""
    if isinstance(exc, DpError):
        return exc.code
    if isinstance(exc, MemoryError):
        return ErrorCode.RESOURCE_EXHAUSTED
    return ErrorCode.INTERNAL
