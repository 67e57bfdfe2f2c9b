"""call_with_retries: transient errors are retried with doubling waits, others fail at once."""

import pytest

from dp_core.errors import DpError, ErrorCode
from dp_core.retry import call_with_retries

pytestmark = pytest.mark.unit


def flaky(failures: list[BaseException], result="ok"):
    """A fn that raises the given exceptions in turn, then returns `result`; records attempts."""
    calls = []

    def fn(attempt: int):
        calls.append(attempt)
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def transient() -> DpError:
    return DpError(ErrorCode.MODEL_UNAVAILABLE, "server not ready")


def test_first_success_makes_one_call_and_never_sleeps():
    fn, calls = flaky([])
    sleeps = []
    assert call_with_retries(fn, retries=3, backoff_s=1.0, sleep=sleeps.append) == ("ok", 1)
    assert calls == [1] and sleeps == []


def test_transient_errors_are_retried_with_doubling_waits():
    fn, calls = flaky([transient(), transient(), transient()])
    sleeps, retried = [], []
    result = call_with_retries(
        fn,
        retries=3,
        backoff_s=0.5,
        on_retry=lambda exc, attempt, delay: retried.append((exc.code, attempt, delay)),
        sleep=sleeps.append,
    )
    assert result == ("ok", 4)
    assert calls == [1, 2, 3, 4]
    assert sleeps == [0.5, 1.0, 2.0]
    assert retried == [
        (ErrorCode.MODEL_UNAVAILABLE, n, d) for n, d in [(1, 0.5), (2, 1.0), (3, 2.0)]
    ]


def test_the_last_transient_failure_is_raised_with_its_attempt_count():
    last = transient()
    fn, calls = flaky([transient(), transient(), last])
    sleeps = []
    with pytest.raises(DpError) as raised:
        call_with_retries(fn, retries=2, backoff_s=1.0, sleep=sleeps.append)
    assert raised.value is last
    assert raised.value.attempts == 3
    assert calls == [1, 2, 3] and sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    "error",
    [DpError(ErrorCode.INPUT_CORRUPT, "bad file"), ValueError("a bug")],
    ids=["permanent-code", "plain-exception"],
)
def test_permanent_errors_fail_at_once(error):
    fn, calls = flaky([error])
    sleeps = []
    with pytest.raises(type(error)) as raised:
        call_with_retries(fn, retries=5, backoff_s=1.0, sleep=sleeps.append)
    assert raised.value.attempts == 1
    assert calls == [1] and sleeps == []


def test_zero_retries_means_one_call():
    fn, calls = flaky([transient()])
    with pytest.raises(DpError) as raised:
        call_with_retries(fn, retries=0, backoff_s=1.0, sleep=lambda s: None)
    assert raised.value.attempts == 1 and calls == [1]


def test_a_custom_predicate_decides_what_is_transient():
    fn, _ = flaky([TimeoutError("slow"), TimeoutError("slow")])
    result = call_with_retries(
        fn,
        retries=2,
        backoff_s=0.0,
        is_transient=lambda exc: isinstance(exc, TimeoutError),
        sleep=lambda s: None,
    )
    assert result == ("ok", 3)
