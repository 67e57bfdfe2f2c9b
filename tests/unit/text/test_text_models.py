"""Text model loaders: clear errors, Tesseract TSV parsing, the hybrid reader's choice."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.families.text import (
    HybridReader,
    RapidOcrReader,
    TesseractReader,
    load_ocr_reader,
    ocr_models,
    parse_tesseract_tsv,
)

pytestmark = pytest.mark.unit

HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


def _word(page, line, left, top, width, height, conf, text, block=1):
    return f"5\t{page}\t{block}\t1\t{line}\t1\t{left}\t{top}\t{width}\t{height}\t{conf}\t{text}"


def test_tesseract_tsv_to_lines_per_frame():
    tsv = "\n".join(
        [
            HEADER,
            "1\t1\t0\t0\t0\t0\t0\t0\t640\t360\t-1\t",
            _word(1, 1, 40, 60, 100, 24, 96.0, "Привет"),
            _word(1, 1, 150, 64, 50, 20, 94.0, "мир"),
            _word(1, 2, 40, 200, 10, 10, 30.0, "ы"),  # low confidence: dropped
            "1\t2\t0\t0\t0\t0\t0\t0\t640\t360\t-1\t",  # page 2: nothing
            "1\t3\t0\t0\t0\t0\t0\t0\t640\t360\t-1\t",
            _word(3, 1, 1200, 20, 200, 40, 90.0, "Hello"),  # scaled 2x, right edge clipped
            _word(3, 2, 10, 600, 20, 20, 80.0, "a"),  # one character: dropped
        ]
    )
    frames = [np.zeros((360, 640, 3), np.uint8)] * 3
    first, second, third = parse_tesseract_tsv(
        tsv, frames, scale=2.0, min_word_confidence=0.5, min_line_chars=2
    )
    assert first.texts == ("Привет мир",)
    np.testing.assert_allclose(first.boxes, [[20, 30, 100, 42]])
    assert first.confidences[0] == pytest.approx(0.95)
    assert second.texts == () and second.boxes.shape == (0, 4)
    assert third.texts == ("Hello",)
    np.testing.assert_allclose(third.boxes, [[600, 10, 640, 30]])


def test_tesseract_output_that_is_not_tsv_is_bad_output():
    with pytest.raises(DpError) as info:
        parse_tesseract_tsv("Error opening data file", [np.zeros((4, 4, 3), np.uint8)])
    assert info.value.code == ErrorCode.MODEL_BAD_OUTPUT


def test_unknown_engine_or_option_is_a_config_error():
    with pytest.raises(DpError) as info:
        load_ocr_reader("easyocr")
    assert info.value.code == ErrorCode.CONFIG_INVALID
    with pytest.raises(DpError) as info:
        load_ocr_reader("tesseract", det_max_side=640)
    assert info.value.code == ErrorCode.CONFIG_INVALID


def test_missing_tesseract_says_what_to_install():
    with pytest.raises(DpError) as info:
        TesseractReader(binary="no-such-tesseract-here")
    assert info.value.code == ErrorCode.DEPENDENCY_MISSING
    assert "apt-get install tesseract-ocr" in info.value.message


def test_missing_tesseract_language_is_model_not_found():
    with pytest.raises(DpError) as info:
        TesseractReader(languages=("eng", "xyz"))
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "tesseract-ocr-xyz" in info.value.message


def test_rapidocr_on_cuda_runs_on_cuda_or_refuses_never_a_cpu_run():
    if "CUDAExecutionProvider" in ort.get_available_providers():
        devices = {m.device for m in RapidOcrReader(device="cuda").models_used}
        assert devices == {"cuda:0"}
        return
    with pytest.raises(DpError) as info:
        RapidOcrReader(device="cuda")
    assert info.value.code == ErrorCode.DEPENDENCY_MISSING


def test_rapidocr_with_a_missing_recognition_model():
    with pytest.raises(DpError) as info:
        RapidOcrReader(rec_model_path="/nonexistent/eslav_PP-OCRv5_rec_mobile.onnx")
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND


def test_ocr_models_follow_the_engine_and_its_options():
    names = [m.name for m in ocr_models({"engine": "rapidocr", "use_cls": True})]
    assert names == [
        "rapidocr/PP-OCRv6_det_small",
        "rapidocr/PP-OCRv6_rec_small",
        "rapidocr/ch_ppocr_mobile_v2.0_cls_mobile",
    ]
    with pytest.raises(DpError) as info:
        ocr_models({"engine": "easyocr"})
    assert info.value.code == ErrorCode.CONFIG_INVALID


class _FakeRapid:
    models_used: tuple = ()

    def detect_lines(self, frame):
        quads = np.array([[[10, 10], [110, 10], [110, 40], [10, 40]]] * 3, np.float32)
        return quads, [np.zeros((30, 100, 3), np.uint8)] * 3

    def recognise(self, crops):
        return [("Hello world", 0.99), ("Npnbet mnp", 0.9), ("iPhone 15", 0.97)] * (len(crops) // 3)


class _FakeTesseract:
    def read_lines(self, crops):
        return [("Hello world", 0.9), ("Привет мир", 0.93), ("iPhone 15", 0.8)] * (len(crops) // 3)


def test_hybrid_keeps_tesseract_where_it_reads_cyrillic():
    hybrid = HybridReader.__new__(HybridReader)
    hybrid._rapid, hybrid._tesseract, hybrid._min_cyrillic_share = (
        _FakeRapid(),
        _FakeTesseract(),
        0.5,
    )
    (frame_text,) = hybrid.read([np.zeros((360, 640, 3), np.uint8)])
    assert frame_text.texts == ("Hello world", "Привет мир", "iPhone 15")
    np.testing.assert_allclose(frame_text.confidences, [0.99, 0.93, 0.97])
    np.testing.assert_allclose(frame_text.boxes[0], [10, 10, 110, 40])
