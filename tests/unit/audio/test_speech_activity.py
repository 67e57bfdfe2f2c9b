"""Speech activity: segment rules on known probability curves, stream bookkeeping with a
transparent fake model, and the packaged Silero VAD loader."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.speech_activity import (
    CONTEXT_SAMPLES,
    FRAME_S,
    FRAME_SAMPLES,
    SpeechProbabilityStream,
    VadParams,
    speech_activity,
    speech_segments,
)
from dp_resources.models.families import packaged as packaged_models

pytestmark = pytest.mark.unit

RATE = 16000


def _curve(spans: list[tuple[float, float, float]], seconds: float) -> np.ndarray:
    """Per-frame probabilities: 0 everywhere, `p` over each (start_s, end_s, p)."""
    frames = round(seconds / FRAME_S)
    p = np.zeros(frames, np.float32)
    for start, end, value in spans:
        p[round(start / FRAME_S) : round(end / FRAME_S)] = value
    return p


def _n(seconds: float) -> int:
    return round(seconds * RATE)


NO_PAD = VadParams(speech_pad_s=0.0)


def test_one_burst_gives_one_segment_at_its_frames():
    segments = speech_segments(_curve([(1.024, 2.048, 0.9)], 4.0), _n(4.0), NO_PAD)
    np.testing.assert_allclose(segments, [[1.024, 2.048]])
    assert segments.dtype == np.float64


def test_hysteresis_between_thresholds_keeps_speech_going():
    # 0.4 is below the 0.5 entry threshold but above the 0.35 exit threshold
    p = _curve([(1.0, 1.5, 0.9), (1.5, 2.5, 0.4), (2.5, 3.0, 0.9)], 4.0)
    segments = speech_segments(p, _n(4.0), NO_PAD)
    assert segments.shape == (1, 2)
    np.testing.assert_allclose(segments[0], [1.0, 3.0], atol=FRAME_S)
    # the same plateau never starts speech on its own
    assert speech_segments(_curve([(1.0, 3.0, 0.4)], 4.0), _n(4.0), NO_PAD).shape == (0, 2)


def test_short_silence_merges_long_silence_splits():
    short_gap = _curve([(1.0, 2.0, 0.9), (2.064, 3.0, 0.9)], 4.0)  # 64 ms < 100 ms
    assert len(speech_segments(short_gap, _n(4.0), NO_PAD)) == 1
    long_gap = _curve([(1.0, 2.0, 0.9), (2.5, 3.0, 0.9)], 4.0)
    np.testing.assert_allclose(
        speech_segments(long_gap, _n(4.0), NO_PAD), [[1.0, 2.0], [2.5, 3.0]], atol=FRAME_S
    )


def test_short_bursts_are_dropped():
    p = _curve([(1.0, 1.16, 0.9), (2.0, 2.5, 0.9)], 4.0)  # 160 ms < 250 ms
    np.testing.assert_allclose(speech_segments(p, _n(4.0), NO_PAD), [[2.0, 2.5]], atol=FRAME_S)


def test_padding_widens_and_shares_small_gaps():
    # frame-aligned: speech over frames [32, 64) and [69, 94)
    p = _curve([(1.024, 2.048, 0.9), (2.208, 3.008, 0.9)], 4.0)
    segments = speech_segments(p, _n(4.0), VadParams(speech_pad_s=0.1, min_silence_s=0.1))
    # the gap (0.16 s) is under 2 x 0.1 s: the neighbours meet half-way
    np.testing.assert_allclose(segments, [[0.924, 2.128], [2.128, 3.108]], atol=1e-9)


def test_speech_running_to_the_end_is_closed_at_the_audio_end():
    seconds = 3.0
    p = _curve([(2.0, 3.0, 0.9)], seconds)
    n = _n(seconds) - 100  # the last frame was zero-padded
    segments = speech_segments(p, n, VadParams(speech_pad_s=0.2))
    assert segments[-1, 1] == pytest.approx(n / RATE)


def test_no_probabilities_no_segments():
    assert speech_segments(np.zeros(0, np.float32), 0).shape == (0, 2)


class EchoVad:
    """Fake VAD: its probability is a function of the frame, the 64-sample context and the
    state, so dropping any of them across chunk borders changes the result."""

    def __init__(self):
        self.calls = []

    def run(self, inputs):
        x, state = inputs["input"], inputs["state"]
        self.calls.append(x.shape)
        assert inputs["sr"].dtype == np.int64 and int(inputs["sr"]) == RATE
        p = float(
            np.abs(x[0, CONTEXT_SAMPLES:]).mean() + 0.5 * np.abs(x[0, :CONTEXT_SAMPLES]).mean()
        )
        p = p + 1e-3 * float(state[0, 0, 0])
        return {"output": np.array([[p]], np.float32), "stateN": state + 1.0}


def _feed(samples: np.ndarray, sizes: list[int], start_s: float = 0.0):
    stream = SpeechProbabilityStream(EchoVad())
    at = 0
    for size in sizes:
        stream.feed(samples[at : at + size][None, :], start_s + at / RATE)
        at += size
    stream.feed(samples[at:][None, :], start_s + at / RATE)
    return stream


def test_stream_frames_context_and_state_carry_across_chunks():
    rng = np.random.default_rng(3)
    samples = rng.uniform(-1, 1, 5 * FRAME_SAMPLES + 100).astype(np.float32)
    one_shot = _feed(samples, []).finish()
    assert one_shot.shape == (6,)  # 5 full frames + the zero-padded partial one
    for sizes in ([1, 700, 3], [511, 513, 512], [FRAME_SAMPLES] * 4, [5, 5, 5, 5]):
        np.testing.assert_array_equal(_feed(samples, sizes).finish(), one_shot)
    # every call sees 64 context + 512 new samples
    vad = EchoVad()
    stream = SpeechProbabilityStream(vad)
    stream.feed(samples, 0.0)
    stream.finish()
    assert set(vad.calls) == {(1, CONTEXT_SAMPLES + FRAME_SAMPLES)}


def test_chunks_must_be_contiguous_and_16k():
    stream = SpeechProbabilityStream(EchoVad())
    stream.feed(np.zeros((1, 1600), np.float32), 5.0)
    with pytest.raises(DpError) as info:
        stream.feed(np.zeros((1, 1600), np.float32), 5.5)
    assert info.value.code == ErrorCode.INPUT_CORRUPT
    with pytest.raises(DpError) as info:
        SpeechProbabilityStream(EchoVad(), sample_rate=48000)
    assert info.value.code == ErrorCode.INPUT_UNSUPPORTED


def test_times_are_from_the_video_start():
    samples = np.zeros(RATE, np.float32)
    samples[RATE // 4 : 3 * RATE // 4] = 0.9  # EchoVad: p ~ 0.9 there
    chunks = [(samples[None, :8000], 12.5), (samples[None, 8000:], 13.0)]
    result = speech_activity(chunks, EchoVad(), NO_PAD)
    assert result.status == "ok"
    assert result.probability_times_s[0] == 12.5
    np.testing.assert_allclose(result.speech_segments_s, [[12.75, 13.25]], atol=2 * FRAME_S)
    assert result.speech_ratio == pytest.approx(0.5, abs=0.07)
    arrays = result.as_arrays()
    assert arrays["speech_segments_s"].dtype == np.float64
    assert arrays["speech_ratio"].shape == () and arrays["speech_probability"].dtype == np.float32


def test_no_audio_is_empty_not_an_error():
    result = speech_activity([], EchoVad())
    assert result.status == "empty" and result.speech_ratio == 0.0
    assert result.speech_segments_s.shape == (0, 2)


@pytest.fixture(scope="module")
def silero():
    return packaged_models.load_silero_vad()


def test_silero_is_the_real_packaged_model(silero):
    used = silero.model_used
    assert (used.name, used.version, used.stand_in) == ("silero-vad", "6.2.3", False)
    assert (
        used.precision == "fp32" and used.engine == "onnxruntime" and len(used.weights_digest) == 64
    )
    assert {"input", "state", "sr"} <= set(silero.input_names)


def test_silence_is_empty_with_the_real_model(silero):
    result = speech_activity([(np.zeros((1, 3 * RATE), np.float32), 0.0)], silero)
    assert result.status == "empty" and result.speech_segments_s.shape == (0, 2)
    assert result.speech_probability.shape == (int(np.ceil(3 * RATE / FRAME_SAMPLES)),)
    assert float(result.speech_probability.max()) < 0.1


def test_missing_package_names_the_pin(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "silero_vad" else real(name)
    )
    with pytest.raises(DpError) as info:
        packaged_models.load_silero_vad()
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "silero-vad==6.2.3" in info.value.message and "--no-deps" in info.value.message
