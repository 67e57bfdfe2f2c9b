"""OCR + line de-duplication against known truth: rendered overlays at known times.

The analysis stream is 2 fps (the segmenter's default), 640x360. Line A shows from 0 to
2 s, line B from 1.5 to 4 s, and nothing at 4 s. Truth per line: its string and its span;
a span is right when both ends are within one frame interval (0.5 s) of the truth. English
is read with RapidOCR (the default engine), Russian with Tesseract `rus+eng`.

Frames 1-2 repeat frame 0 and frames 5-7 repeat frame 4 (same picture, fresh noise), so the
OCR stage must read 4 of the 9 frames and skip 5.
"""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.text.ocr import FrameOcr, OcrConfig, read_frames
from dp_features.text.ocr_lines import merge_lines
from dp_resources.models.families.text import (
    RAPIDOCR_DET,
    HybridReader,
    RapidOcrReader,
    TesseractReader,
)
from tests.fixtures.text_overlays import Overlay, render, similarity

pytestmark = pytest.mark.accuracy

FPS = 2.0
TIMES_S = np.arange(0.0, 4.01, 1 / FPS)
READ_FRAMES = [0, 3, 4, 8]
MIN_SIMILARITY = 0.9


class CountingReader:
    """Wraps a reader and records how many frames it was asked to read."""

    def __init__(self, reader):
        self.inner, self.name, self.frames_read = reader, reader.name, 0

    @property
    def models_used(self):
        return self.inner.models_used

    def read(self, frames):
        self.frames_read += len(frames)
        return self.inner.read(frames)


@pytest.fixture(scope="module")
def rapidocr():
    return RapidOcrReader()


@pytest.fixture(scope="module")
def tesseract():
    return TesseractReader(languages=("rus", "eng"))


@pytest.fixture(scope="module")
def hybrid():
    return HybridReader()


def _two_lines(a: str, b: str, size: int = 24) -> list[Overlay]:
    return [
        Overlay(a, 0.0, 2.0, (40, 50), size=size, colour=(255, 255, 255)),
        Overlay(b, 1.5, 4.0, (40, 280), size=size, colour=(255, 230, 60)),
    ]


def _check_sequence(reader, overlays: list[Overlay]) -> None:
    counting = CountingReader(reader)
    frames = render(overlays, TIMES_S)
    ocr = FrameOcr(counting)
    for start in range(0, len(frames), 4):  # chunks, as the asset feeds them
        ocr.add(frames[start : start + 4], TIMES_S[start : start + 4])
    result = ocr.result()

    assert result.skipped_frames == 5
    assert counting.frames_read == 4
    assert np.flatnonzero(result.frame_read).tolist() == READ_FRAMES
    assert 8 not in result.box_frame.tolist(), "the frame with no text must give nothing"
    assert result.boxes.shape == (len(result.texts), 4)

    lines = merge_lines(
        result.texts,
        result.confidences,
        result.box_frame,
        result.frame_times_s,
        result.frame_source,
    )
    assert len(lines.lines_text) == len(overlays), list(lines.lines_text)
    for overlay in overlays:
        scores = [similarity(overlay.text, str(t)) for t in lines.lines_text]
        k = int(np.argmax(scores))
        assert scores[k] >= MIN_SIMILARITY, f"{overlay.text!r} read as {lines.lines_text[k]!r}"
        first, last = lines.lines_span_s[k]
        assert abs(first - overlay.start_s) <= 1 / FPS + 1e-9
        assert abs(last - overlay.end_s) <= 1 / FPS + 1e-9
        assert lines.lines_readings[k] == 2, "the reading on two read frames is one line"
        assert 0.5 <= lines.lines_confidence[k] <= 1.0
        # the reading's box is where the overlay was drawn
        box = result.boxes[lines.box_line == k][0]
        assert abs(box[0] - overlay.xy[0]) < 12 and abs(box[1] - overlay.xy[1]) < 12


def test_english_overlays_with_rapidocr(rapidocr):
    _check_sequence(rapidocr, _two_lines("Subscribe for more videos", "Limited offer: 50% off"))


def test_russian_overlays_with_tesseract(tesseract):
    _check_sequence(tesseract, _two_lines("Привет мир", "Скидка только сегодня"))


def test_english_and_small_russian_with_the_hybrid_reader(hybrid):
    # 16 px Cyrillic: full-frame Tesseract read 3 of 10 such lines in our sweep, the
    # hybrid (RapidOCR's detector, Tesseract on the line crop) 10 of 10.
    _check_sequence(hybrid, _two_lines("Subscribe for more videos", "Скидка только сегодня", 16))


def test_mixed_russian_english_line_with_tesseract(tesseract):
    frames = render([Overlay("Новый iPhone 15 обзор", 0.0, 1.0, (40, 150))], TIMES_S[:1])
    result = read_frames(frames, TIMES_S[:1], tesseract)
    assert [str(t) for t in result.texts] == ["Новый iPhone 15 обзор"]


@pytest.mark.parametrize("engine", ["rapidocr", "tesseract", "hybrid"])
def test_frame_without_text_gives_nothing(engine, request):
    reader = request.getfixturevalue(engine)
    frames = render([], TIMES_S[:2])
    result = read_frames(frames, TIMES_S[:2], reader, OcrConfig(skip_duplicates=False))
    assert result.frame_read.all()
    assert len(result.texts) == 0 and result.boxes.shape == (0, 4)
    lines = merge_lines(result.texts, result.confidences, result.box_frame, TIMES_S[:2])
    assert len(lines.lines_text) == 0 and lines.lines_span_s.shape == (0, 2)


def test_models_used_name_the_weights(rapidocr, tesseract):
    import hashlib
    import importlib.util
    from pathlib import Path

    det = next(m for m in rapidocr.models_used if m.name.endswith(Path(RAPIDOCR_DET).stem))
    folder = Path(next(iter(importlib.util.find_spec("rapidocr").submodule_search_locations)))
    digest = hashlib.sha256((folder / "models" / RAPIDOCR_DET).read_bytes()).hexdigest()
    assert (det.weights_digest, det.engine, det.device) == (digest, "onnxruntime", "cpu")
    assert {m.name for m in tesseract.models_used} == {"tesseract/rus", "tesseract/eng"}
    assert all(m.engine == "tesseract" and not m.stand_in for m in tesseract.models_used)
