"""`silence_detection` through the real graph: a clip whose audio opens on 1 s of silence and
goes quiet for 1 s between two tones, encoded with AAC and resampled to 16 kHz by the
segmenter, gives those gaps, that share and that lead-in; the feature table gets them too."""

import numpy as np
import pytest
import yaml

from dp_assets.components import feature_sets, load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.storage_keys import artifact_key
from dp_features.dataset.feature_row import ComponentInput, feature_row
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.accuracy

RATE = 48000
# silence 0-1 s, tone 1-2.5 s, silence 2.5-3.5 s, tone 3.5-4 s
PIECES = [(1.0, 0.0), (1.5, 0.3), (1.0, 0.0), (0.5, 0.3)]
# AAC frames are 1024 samples (21 ms) and smear a tone's onset a little before it; the
# analysis windows are 50 ms: edges within two windows
EDGE_S = 0.1


def talk_with_gaps() -> np.ndarray:
    parts = []
    for seconds, amplitude in PIECES:
        t = np.arange(round(seconds * RATE)) / RATE
        parts.append(amplitude * np.sin(2 * np.pi * 440.0 * t))
    mono = np.concatenate(parts).astype(np.float32)
    return np.stack([mono, mono])


def test_gaps_and_lead_in_from_a_real_encode(tmp_path, dagster_instance):
    clip = make_clip(
        tmp_path / "in" / "gaps.mp4",
        ClipSpec(duration_s=4.0, width=160, height=120, audio_samples=talk_with_gaps()),
    )
    profile = {
        "name": "silence",
        "components": {"segmenter": {}, "silence_detection": {"params": {"min_silence_s": 0.5}}},
    }
    path = tmp_path / "silence.yaml"
    path.write_text(yaml.safe_dump(profile))
    settings = Settings(storage_base=str(tmp_path / "store"), profile=str(path))
    [result], store = process_videos(
        dagster_instance, [str(clip)], settings, load_profile(str(path)), None, lambda _: None
    )
    assert result.status == "success", result.message
    artifact = decode_artifact(
        store.get_bytes(artifact_key(result.partition_key, result.run_id, "silence_detection"))
    )
    arrays = artifact.arrays
    assert artifact.meta.status == "ok"
    assert arrays["silence_gaps_s"] == pytest.approx(np.array([[0.0, 1.0], [2.5, 3.5]]), abs=EDGE_S)
    assert float(arrays["silence_ratio"]) == pytest.approx(0.5, abs=2 * EDGE_S / 4.0)
    assert float(arrays["lead_in_silence_s"]) == pytest.approx(1.0, abs=EDGE_S)
    # a 0.3-amplitude sine reads -13.5 dBFS (RMS 0.212) per channel; swresample's downmix
    # to the segmenter's mono track adds L and R at -3 dB each: identical channels, +3.01 dB
    times, dbfs = arrays["window_times_s"], arrays["window_dbfs"]
    assert np.median(dbfs[(times > 1.2) & (times < 2.3)]) == pytest.approx(-10.46, abs=0.3)

    row = feature_row({"silence_detection": ComponentInput("ok", arrays)}, feature_sets())
    assert row["silence_detection_missing"] == 0
    assert row["silence_detection_gaps_per_minute"] == pytest.approx(30.0, abs=1.0)
    assert row["silence_detection_longest_silence_s"] == pytest.approx(1.0, abs=EDGE_S)
