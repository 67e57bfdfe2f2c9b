"""OCR and text features end to end: known overlay text at known times, encoded into a
video, decoded by the segmenter, read by the assets on a real Dagster instance."""

import json

import numpy as np
import pytest

from dp_core.errors import ErrorCode
from tests.accuracy.test_audio_components import run_and_load
from tests.fixtures.media import ClipSpec
from tests.fixtures.text_overlays import Overlay, render, similarity

pytestmark = pytest.mark.accuracy

FIRST = Overlay("Subscribe for more videos", 0.0, 2.0, (40, 60), size=28)
SECOND = Overlay("Big sale today only", 1.5, 4.0, (40, 220), size=28)


def test_ocr_lines_and_text_features(tmp_path, dagster_instance):
    fps = 10
    frames = render([FIRST, SECOND], np.arange(4 * fps) / fps, size=(640, 360))
    spec = ClipSpec(duration_s=4.0, fps=fps, width=640, height=360, video_frames=frames)
    (tmp_path / "overlay.json").write_text(
        json.dumps({"title": "Как приготовить пасту", "tags": ["рецепт", "паста"]}),
        encoding="utf-8",
    )
    (tmp_path / "broken.json").write_bytes(b'{"title": "\xff\xfe"}')
    artifacts = run_and_load(dagster_instance, tmp_path, {"overlay": spec, "broken": spec})

    ocr = artifacts["overlay"]["ocr"]
    assert ocr.meta.status == "ok" and not ocr.meta.models_used[0].stand_in
    lines = ocr.arrays["lines_text"].tolist()
    spans = ocr.arrays["lines_span_s"]
    for overlay in (FIRST, SECOND):
        best = max(range(len(lines)), key=lambda i: similarity(lines[i], overlay.text))
        assert similarity(lines[best], overlay.text) >= 0.9, lines
        # the profile samples OCR at 1 fps: spans are right to within one sample
        assert spans[best][0] == pytest.approx(overlay.start_s, abs=1.0)
        assert spans[best][1] == pytest.approx(overlay.end_s, abs=1.0)
    assert len(lines) == 2  # each line once, however many frames showed it

    text = artifacts["overlay"]["text_features"]
    assert text.meta.status == "ok" and text.arrays["embedding"].shape == (512,)
    assert float(np.linalg.norm(text.arrays["embedding"])) == pytest.approx(1.0, abs=1e-4)
    languages = dict(
        zip(
            text.arrays["source_names"].tolist(),
            text.arrays["source_language"].tolist(),
            strict=True,
        )
    )
    assert languages["title"] == "ru" and languages["ocr"] == "en"
    assert str(text.arrays["language"]) == "mixed"

    # a broken sidecar fails only the component that reads it
    broken = artifacts["broken"]
    assert broken["ocr"].meta.status == "ok" and broken["segmenter"].meta.status == "ok"
    assert broken["text_features"].meta.status == "error"
    assert broken["text_features"].meta.error_code is ErrorCode.INPUT_CORRUPT
