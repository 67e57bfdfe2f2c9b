"""Audio components end to end: tones and clicks with known truth, encoded into a video
(AAC), decoded by the segmenter, measured by the assets on a real Dagster instance."""

import numpy as np
import pytest

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
from tests.fixtures.audio_synth import beat_match, click_track, tone_sequence
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.accuracy


def run_and_load(instance, tmp_path, clips: dict[str, ClipSpec]) -> dict[str, dict]:
    paths = [make_clip(tmp_path / f"{name}.mp4", spec) for name, spec in clips.items()]
    results, storage = process_videos(
        instance,
        [str(p) for p in paths],
        Settings(storage_base=str(tmp_path / "store")),
        load_profile("cpu_baseline"),
        None,
        lambda line: None,
    )
    loaded = {}
    for result in results:
        manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
        loaded[result.video_id] = {
            c.name: decode_artifact(storage.get_bytes(c.artifact_key))
            for c in manifest.components
            if c.artifact_key
        }
    return loaded


def test_loudness_and_tempo_through_the_whole_graph(tmp_path, dagster_instance):
    rate = 48000
    tone = tone_sequence([(-23.0, 20.0)], rate)  # EBU Tech 3341 case 1: -23.0 LUFS
    steps = tone_sequence([(-20.0, 10.0), (-30.0, 10.0)], rate)  # Tech 3342 case 1: LRA 10 LU
    clicks, click_times = click_track(128.0, seconds=20.0, sample_rate=rate)
    video = dict(width=64, height=48, fps=5, sample_rate=rate)
    artifacts = run_and_load(
        dagster_instance,
        tmp_path,
        {
            "tone": ClipSpec(duration_s=20.0, audio_samples=tone, **video),
            "steps": ClipSpec(duration_s=20.0, audio_samples=steps, **video),
            "clicks": ClipSpec(duration_s=20.0, audio_samples=np.tile(clicks, (2, 1)), **video),
            "mute": ClipSpec(duration_s=2.0, audio=False, **video),
        },
    )
    loudness = artifacts["tone"]["loudness_extractor"]
    assert loudness.meta.status == "ok"
    # AAC at its default bitrate keeps a steady tone's level to well under 0.2 LU
    assert float(loudness.arrays["integrated_lufs"]) == pytest.approx(-23.0, abs=0.2)
    # the sine's peak is -23 dBFS; AAC's coding noise (pre-echo at the tone's hard start)
    # only adds overshoot, never removes peak
    assert -23.2 <= float(loudness.arrays["true_peak_dbtp"]) <= -21.5
    assert float(artifacts["steps"]["loudness_extractor"].arrays["loudness_range_lu"]) == (
        pytest.approx(10.0, abs=1.0)
    )

    tempo = artifacts["clicks"]["tempo_extractor"].arrays
    assert float(tempo["tempo_bpm"]) == pytest.approx(128.0, rel=0.02)
    # the report reads these names (issue 30); version 3 recomputes older artifacts
    assert artifacts["clicks"]["tempo_extractor"].meta.component_version == "3"
    confidence, alt_weight = float(tempo["tempo_confidence"]), float(tempo["tempo_alt_weight"])
    assert 0.5 <= confidence <= 1.0 and 0.0 < alt_weight <= 1.0 - confidence
    ratio = float(tempo["tempo_alt_bpm"]) / 128.0  # the other level: x2, x1/2, x3 or x1/3
    assert min(abs(ratio / r - 1.0) for r in (2.0, 0.5, 3.0, 1.0 / 3.0)) <= 0.03
    # AAC priming delays the decoded audio by a few ms at most; beats land within 50 ms
    recall, precision = beat_match(tempo["beat_times_s"], click_times, tolerance_s=0.05)
    assert recall >= 0.9 and precision >= 0.9

    for component in ("loudness_extractor", "tempo_extractor"):
        assert artifacts["mute"][component].meta.status == "empty"  # no audio: empty, not error


def test_speech_and_events_on_real_speech_through_the_graph(
    tmp_path, dagster_instance, pyannote_sample
):
    """The two-speaker recording, put in a video (resampled to 48 kHz stereo AAC by the
    encoder path, back to 16 kHz by the segmenter): speech found where the RTTM says."""
    rate = pyannote_sample.sample_rate
    speech = np.tile(pyannote_sample.samples, (2, 1))
    tone = tone_sequence([(-20.0, 10.0)], rate, freq_hz=440.0)
    video = dict(width=64, height=48, fps=5, sample_rate=rate)
    artifacts = run_and_load(
        dagster_instance,
        tmp_path,
        {
            "speech": ClipSpec(
                duration_s=pyannote_sample.duration_s, audio_samples=speech, **video
            ),
            "tone": ClipSpec(duration_s=10.0, audio_samples=tone, **video),
        },
    )
    vad = artifacts["speech"]["speech_activity"]
    assert vad.meta.status == "ok" and vad.meta.models_used[0].name == "silero-vad"
    assert not vad.meta.models_used[0].stand_in
    truth_ratio = pyannote_sample.speech_mask(np.arange(0, pyannote_sample.duration_s, 0.01)).mean()
    assert float(vad.arrays["speech_ratio"]) == pytest.approx(truth_ratio, abs=0.05)
    events = artifacts["speech"]["audio_events"]
    assert str(events.arrays["top_labels"][0]) == "Speech"
    assert artifacts["tone"]["speech_activity"].meta.status == "empty"
    assert "Speech" not in artifacts["tone"]["audio_events"].arrays["top_labels"].tolist()[:3]
