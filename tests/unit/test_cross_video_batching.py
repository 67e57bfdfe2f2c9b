"""Cross-video batching: full batches across video boundaries, outputs back to their video,
failures kept to the video that caused them."""

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.batching import CrossVideoBatcher

pytestmark = pytest.mark.unit

POISON = -1


def frames_of(video_id: int, n: int, chunk: int = 2):
    """Frames whose value encodes (video, index), in chunks like a segmenter stream."""
    values = np.array([video_id * 1000 + i for i in range(n)], dtype=np.int64)
    for start in range(0, n, chunk):
        part = values[start : start + chunk]
        yield part.reshape(-1, 1), part.astype(np.float64) / 10.0


class Model:
    def __init__(self, fail_with=None, failures=0):
        self.batches: list[list[int]] = []
        self.fail_with, self.failures = fail_with, failures

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        values = frames[:, 0].tolist()
        if self.failures > 0:
            self.failures -= 1
            raise self.fail_with
        if POISON in values:
            raise DpError(ErrorCode.MODEL_BAD_OUTPUT, "poisoned frame")
        self.batches.append(values)
        return frames[:, 0] * 2


def test_batches_span_videos_and_outputs_return_to_their_video():
    lengths = {1: 3, 2: 5, 3: 1, 4: 7}
    model = Model()
    batcher = CrossVideoBatcher(model, batch_size=4)
    results = batcher.run({v: frames_of(v, n) for v, n in lengths.items()})
    assert [len(b) for b in model.batches] == [4, 4, 4, 4]  # 16 frames, 4 full calls
    assert batcher.stats.calls == 4 and batcher.stats.mean_batch == 4.0
    for video, n in lengths.items():
        expected = [2 * (video * 1000 + i) for i in range(n)]
        assert list(results[video].outputs) == expected
        np.testing.assert_allclose(results[video].frame_times_s, (video * 1000 + np.arange(n)) / 10)
        assert results[video].error is None


def test_last_partial_batch_is_flushed():
    model = Model()
    results = CrossVideoBatcher(model, batch_size=8).run({1: frames_of(1, 3), 2: frames_of(2, 2)})
    assert [len(b) for b in model.batches] == [5]
    assert len(results[1].outputs) == 3 and len(results[2].outputs) == 2


def test_a_failing_reader_fails_only_its_video():
    def broken():
        yield from frames_of(2, 2)
        raise DpError(ErrorCode.INPUT_CORRUPT, "truncated")

    model = Model()
    results = CrossVideoBatcher(model, batch_size=3).run(
        {1: frames_of(1, 2), 2: broken(), 3: frames_of(3, 4)}
    )
    assert results[2].error.code is ErrorCode.INPUT_CORRUPT and results[2].outputs == []
    assert len(results[1].outputs) == 2 and len(results[3].outputs) == 4


def test_a_video_that_breaks_the_model_is_isolated():
    def poisoned():
        yield np.array([[3000], [POISON]]), np.array([0.0, 0.1])

    model = Model()
    batcher = CrossVideoBatcher(model, batch_size=4)
    results = batcher.run({1: frames_of(1, 3), 3: poisoned(), 4: frames_of(4, 3)})
    assert results[3].error.code is ErrorCode.MODEL_BAD_OUTPUT
    assert list(results[1].outputs) == [2000, 2002, 2004]
    assert list(results[4].outputs) == [8000, 8002, 8004]
    assert batcher.stats.isolations >= 1


def test_transient_errors_are_retried_with_backoff_permanent_are_not():
    sleeps = []
    model = Model(fail_with=DpError(ErrorCode.MODEL_UNAVAILABLE, "busy"), failures=2)
    batcher = CrossVideoBatcher(model, batch_size=4, retries=2, backoff_s=0.5, sleep=sleeps.append)
    results = batcher.run({1: frames_of(1, 4)})
    assert list(results[1].outputs) == [2000, 2002, 2004, 2006]
    assert sleeps == [0.5, 1.0] and batcher.stats.retries == 2

    model = Model(fail_with=DpError(ErrorCode.MODEL_NOT_FOUND, "gone"), failures=1)
    sleeps.clear()
    results = CrossVideoBatcher(model, batch_size=4, sleep=sleeps.append).run({1: frames_of(1, 4)})
    assert results[1].error.code is ErrorCode.MODEL_NOT_FOUND and sleeps == []


def test_wrong_output_count_is_bad_output():
    results = CrossVideoBatcher(lambda frames: frames[:1], batch_size=4).run({1: frames_of(1, 3)})
    assert results[1].error.code is ErrorCode.MODEL_BAD_OUTPUT


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError):
        CrossVideoBatcher(Model(), batch_size=0)
