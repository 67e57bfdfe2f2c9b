"""Retry a call on transient errors, with exponential backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from dp_core.errors import error_code_of

T = TypeVar("T")


def is_transient_error(exc: BaseException) -> bool:
    """Whether the exception's `ErrorCode` is one worth retrying."""
    return error_code_of(exc).transient


def call_with_retries(
    fn: Callable[[int], T],
    *,
    retries: int,
    backoff_s: float,
    is_transient: Callable[[BaseException], bool] = is_transient_error,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """`(fn(attempt), attempts)`, calling `fn` with attempt = 1, 2, ... until it succeeds.

    An exception that `is_transient` and comes at attempt <= `retries` is retried: first
    `on_retry(exc, attempt, delay)`, then a wait of `backoff_s * 2 ** (attempt - 1)` seconds
    (1x, 2x, 4x, ...). So there are at most `retries + 1` calls. Any other exception, or the
    last one, is re-raised unchanged except for an `attempts` attribute set on it: the
    number of calls made, for callers that report it.
    """
    attempt = 1
    while True:
        try:
            return fn(attempt), attempt
        except Exception as exc:
            if attempt <= retries and is_transient(exc):
                delay = backoff_s * 2 ** (attempt - 1)
                if on_retry is not None:
                    on_retry(exc, attempt, delay)
                sleep(delay)
                attempt += 1
                continue
            exc.attempts = attempt  # type: ignore[attr-defined]
            raise
