"""CLAP windowing, streaming, resampling and zero-shot scoring, with fake embedders.

The fakes have known behaviour, so these tests check the mechanics against known truth;
the stand-in ONNX model (tests/accuracy/audio/test_clap_standin.py) drives the real path.
"""

import hashlib
import math

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.clap import (
    DEFAULT_TAGS,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    ClapParams,
    ClapStream,
    _ResamplePolyStream,
    clap_embeddings,
    mean_embedding,
    window_count,
    zero_shot_scores,
)

pytestmark = pytest.mark.unit

DIM = 16


def _unit(x):
    x = np.asarray(x, np.float64)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def text_vector(text: str) -> np.ndarray:
    """A fixed random unit vector per text (seeded by its hash)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return _unit(np.random.default_rng(seed).standard_normal(DIM))


class RecordingEmbedder:
    """Embeds a window by its RMS per second through a fixed projection (continuous in
    the waveform); records every batch it is given."""

    def __init__(self):
        self.batches = []
        self.projection = np.random.default_rng(7).standard_normal((10, DIM))

    def embed_audio(self, waveforms):
        waveforms = np.asarray(waveforms, np.float32)
        assert waveforms.shape[1:] == (WINDOW_SAMPLES,) and waveforms.dtype == np.float32
        self.batches.append(waveforms.copy())
        rms = np.sqrt((waveforms.reshape(len(waveforms), 10, -1) ** 2).mean(axis=2) + 1e-6)
        return _unit(np.log(rms) @ self.projection)

    def embed_text(self, texts):
        return np.stack([text_vector(t) for t in texts])

    @property
    def windows(self):
        return np.concatenate(self.batches) if self.batches else np.zeros((0, WINDOW_SAMPLES))


class OracleEmbedder(RecordingEmbedder):
    """Maps a silent window to the text embedding of the 'silence' prompt and any other
    window to that of the 'applause' prompt: the right tags are known."""

    def __init__(self, params=None):
        super().__init__()
        params = params or ClapParams()
        self.silence = text_vector(params.prompt_template.format("silence"))
        self.applause = text_vector(params.prompt_template.format("applause"))

    def embed_audio(self, waveforms):
        super().embed_audio(waveforms)
        loud = np.abs(np.asarray(waveforms)).max(axis=1) > 1e-3
        return np.where(loud[:, None], self.applause, self.silence).astype(np.float32)


def sine(seconds, rate=SAMPLE_RATE, hz=440.0, channels=1):
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.tile(wave, (channels, 1))


def chunked(samples, rate, sizes, start_s=0.0):
    """(samples, start_s) chunks of the given sizes (the last takes the rest)."""
    chunks, at = [], 0
    for size in [*sizes, samples.shape[-1]]:
        part = samples[..., at : at + size]
        if part.shape[-1] == 0:
            break
        chunks.append((part, start_s + at / rate))
        at += part.shape[-1]
    return chunks


def random_sizes(seed, total, low=1, high=700_000):
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(low, high)))
    return sizes


# --- windowing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "hop_s", "expected"),
    [
        (0.0, 10.0, 0),
        (0.5, 10.0, 1),
        (9.99, 10.0, 1),
        (10.0, 10.0, 1),
        (10.01, 10.0, 2),
        (25.0, 10.0, 3),
        (30.0, 10.0, 3),
        (25.0, 5.0, 4),
        (60.0, 2.5, 21),
        (25.0, 20.0, 2),  # gaps: windows at 0 and 20 s
        (45.0, 20.0, 3),
    ],
)
def test_window_count(seconds, hop_s, expected):
    assert window_count(round(seconds * SAMPLE_RATE), round(hop_s * SAMPLE_RATE)) == expected


def test_25_s_gives_three_windows_clipped_to_the_end():
    embedder = RecordingEmbedder()
    result = clap_embeddings([(sine(25.0), 0.0)], embedder, SAMPLE_RATE)
    np.testing.assert_allclose(result.window_times_s, [[0, 10], [10, 20], [20, 25]])
    assert result.status == "ok" and result.embeddings.shape == (3, DIM)
    assert result.duration_s == pytest.approx(25.0)
    windows = embedder.windows
    assert windows.shape == (3, WINDOW_SAMPLES)
    np.testing.assert_array_equal(windows[1], sine(25.0)[0, 480_000:960_000])
    tail = 5 * SAMPLE_RATE
    np.testing.assert_array_equal(windows[2, :tail], sine(25.0)[0, 960_000:])
    assert not windows[2, tail:].any()  # zero-padded


def test_window_times_are_in_video_time_and_follow_the_hop():
    result = clap_embeddings(
        [(sine(25.0), 12.5)], RecordingEmbedder(), SAMPLE_RATE, ClapParams(hop_s=5.0)
    )
    np.testing.assert_allclose(
        result.window_times_s, 12.5 + np.array([[0, 10], [5, 15], [10, 20], [15, 25]])
    )


def test_short_audio_is_one_padded_window_and_no_audio_is_empty():
    embedder = RecordingEmbedder()
    short = clap_embeddings([(sine(3.0), 0.0)], embedder, SAMPLE_RATE)
    np.testing.assert_allclose(short.window_times_s, [[0, 3]])
    assert not embedder.windows[0, 3 * SAMPLE_RATE :].any()
    for chunks in ([], [(np.zeros((2, 0), np.float32), 0.0)]):
        empty = clap_embeddings(chunks, RecordingEmbedder(), SAMPLE_RATE)
        assert empty.status == "empty"
        assert empty.window_times_s.shape == (0, 2) and empty.embeddings.shape == (0, DIM)
        assert empty.window_tag_scores.shape == (0, len(DEFAULT_TAGS))
        assert not empty.tag_scores.any() and empty.top_tags.size == 0
        assert not empty.embedding.any()


def test_chunks_must_be_contiguous():
    stream = ClapStream(RecordingEmbedder(), SAMPLE_RATE)
    stream.feed(sine(1.0), 0.0)
    with pytest.raises(DpError) as info:
        stream.feed(sine(1.0), 2.0)
    assert info.value.code is ErrorCode.INPUT_CORRUPT


# --- streaming and resampling -------------------------------------------------------------


@pytest.mark.parametrize("hop_s", [10.0, 4.0, 13.0])
def test_streaming_in_random_chunks_equals_one_shot_at_48k(hop_s):
    audio = sine(37.3, channels=2) * np.array([[1.0], [0.25]], np.float32)
    params = ClapParams(hop_s=hop_s, batch_size=3)
    one, streamed = RecordingEmbedder(), RecordingEmbedder()
    whole = clap_embeddings([(audio, 4.0)], one, SAMPLE_RATE, params)
    sizes = random_sizes(int(hop_s), audio.shape[1])
    parts = clap_embeddings(chunked(audio, SAMPLE_RATE, sizes, 4.0), streamed, SAMPLE_RATE, params)
    np.testing.assert_array_equal(one.windows, streamed.windows)
    np.testing.assert_array_equal(whole.embeddings, parts.embeddings)
    np.testing.assert_array_equal(whole.window_times_s, parts.window_times_s)
    assert all(len(batch) <= 3 for batch in streamed.batches)


@pytest.mark.parametrize("prefer_soxr", [True, False])
def test_streaming_equals_one_shot_when_resampling(prefer_soxr):
    rate = 44100
    audio = sine(23.0, rate=rate, channels=2)
    one, streamed = RecordingEmbedder(), RecordingEmbedder()

    def run(chunks, embedder):
        stream = ClapStream(embedder, rate, prefer_soxr=prefer_soxr)
        for samples, start in chunks:
            stream.feed(samples, start)
        return stream.finish()

    whole = run([(audio, 0.0)], one)
    parts = run(chunked(audio, rate, random_sizes(3, audio.shape[1])), streamed)
    assert whole.resampler == parts.resampler != "none"
    assert len(one.windows) == len(streamed.windows) == 3
    np.testing.assert_allclose(one.windows, streamed.windows, atol=1e-6)


@pytest.mark.parametrize("rate", [44100, 22050, 16000, 8000, 96000, 11025])
def test_streaming_resample_poly_is_the_one_shot_result(rate):
    from scipy.signal import resample_poly

    x = np.random.default_rng(rate).standard_normal(rate * 2 + 17).astype(np.float32)
    g = math.gcd(rate, SAMPLE_RATE)
    expected = resample_poly(x, SAMPLE_RATE // g, rate // g)
    stream = _ResamplePolyStream(rate)
    parts = [stream.feed(x[a : a + n]) for a, n in _offsets(random_sizes(rate, x.size, 1, 9000))]
    got = np.concatenate([*parts, stream.finish()])
    assert got.size == expected.size == math.ceil(x.size * SAMPLE_RATE / rate)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def _offsets(sizes):
    at = 0
    for n in sizes:
        yield at, n
        at += n


@pytest.mark.parametrize("prefer_soxr", [True, False])
def test_44k1_stereo_gives_the_windows_of_48k_mono(prefer_soxr):
    """The same 1 kHz tone at 44.1 kHz (stereo) and 48 kHz (mono): same window grid,
    near-equal 48 kHz windows, and so near-equal embeddings."""
    native, direct = RecordingEmbedder(), RecordingEmbedder()
    stream = ClapStream(native, 44100, prefer_soxr=prefer_soxr)
    stream.feed(sine(25.0, rate=44100, hz=1000.0, channels=2), 0.0)
    resampled = stream.finish()
    reference = clap_embeddings([(sine(25.0, hz=1000.0), 0.0)], direct, SAMPLE_RATE)
    np.testing.assert_allclose(resampled.window_times_s, reference.window_times_s)
    # Away from the very first and last samples (filter edges), the waveforms agree.
    inner = slice(1000, -1000)
    np.testing.assert_allclose(native.windows[:2, inner], direct.windows[:2, inner], atol=2e-3)
    cosine = np.sum(resampled.embeddings * reference.embeddings, axis=1)
    assert cosine.min() > 0.999


# --- embeddings and zero-shot tags --------------------------------------------------------


def test_clip_embedding_is_the_renormalised_mean():
    windows = _unit(np.random.default_rng(1).standard_normal((5, DIM)))
    clip = mean_embedding(windows)
    assert np.linalg.norm(clip) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(clip, _unit(windows.mean(axis=0)), atol=1e-6)
    assert mean_embedding(np.zeros((0, DIM))).shape == (DIM,)


def test_zero_shot_scores_are_a_softmax_over_cosines():
    text = _unit(np.eye(3, DIM))
    audio = _unit(np.array([[1.0, 0.2, 0.0] + [0.0] * (DIM - 3)]))
    scores = zero_shot_scores(audio, text, temperature=0.1)
    cosines = (audio @ text.T)[0]
    expected = np.exp(cosines / 0.1) / np.exp(cosines / 0.1).sum()
    np.testing.assert_allclose(scores[0], expected, rtol=1e-5)
    sharper = zero_shot_scores(audio, text, temperature=0.01)
    assert sharper[0, 0] > scores[0, 0] and sharper.sum() == pytest.approx(1.0)


def test_oracle_embedder_gets_its_prompt_as_top_tag():
    """Windows that embed exactly like a prompt's text must be tagged with that prompt."""
    audio = np.concatenate([np.zeros((1, 20 * SAMPLE_RATE), np.float32), sine(15.0)], axis=1)
    result = clap_embeddings([(audio, 0.0)], OracleEmbedder(), SAMPLE_RATE)
    names = list(result.tag_names)
    assert names == list(DEFAULT_TAGS) and result.tag_names.dtype.kind == "U"
    window_top = [names[i] for i in result.window_tag_scores.argmax(axis=1)]
    assert window_top == ["silence", "silence", "applause", "applause"]
    np.testing.assert_allclose(result.window_tag_scores.sum(axis=1), 1.0, rtol=1e-5)
    assert result.tag_scores.sum() == pytest.approx(1.0, rel=1e-5)
    # The clip is half silence, half applause: those two lead, ahead of every other tag.
    assert set(result.top_tags[:2]) == {"silence", "applause"}
    assert len(result.top_tags) == 5 and np.all(np.diff(result.top_tag_scores) <= 0)


def test_configurable_tags_and_template():
    params = ClapParams(tags=("applause", "engine"), prompt_template="the sound of {}")
    result = clap_embeddings([(sine(5.0), 0.0)], OracleEmbedder(params), SAMPLE_RATE, params)
    assert list(result.tag_names) == ["applause", "engine"] and result.top_tags[0] == "applause"


def test_embeddings_are_unit_norm_and_independent_of_the_batch_size():
    audio = sine(61.0)
    small = clap_embeddings(
        [(audio, 0.0)], RecordingEmbedder(), SAMPLE_RATE, ClapParams(batch_size=1)
    )
    large = clap_embeddings(
        [(audio, 0.0)], RecordingEmbedder(), SAMPLE_RATE, ClapParams(batch_size=16)
    )
    np.testing.assert_array_equal(small.embeddings, large.embeddings)
    np.testing.assert_allclose(np.linalg.norm(small.embeddings, axis=1), 1.0, atol=1e-5)
    assert np.linalg.norm(small.embedding) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hop_s": 0.0},
        {"batch_size": 0},
        {"tags": ()},
        {"tags": ("speech", "speech")},
        {"temperature": 0.0},
        {"prompt_template": "no placeholder"},
    ],
)
def test_invalid_params(kwargs):
    with pytest.raises(DpError) as info:
        ClapParams(**kwargs)
    assert info.value.code is ErrorCode.CONFIG_INVALID


def test_wrong_embedder_output_is_model_bad_output():
    class Broken(RecordingEmbedder):
        def embed_audio(self, waveforms):
            return np.zeros((len(waveforms) + 1, DIM), np.float32)

    with pytest.raises(DpError) as info:
        clap_embeddings([(sine(3.0), 0.0)], Broken(), SAMPLE_RATE)
    assert info.value.code is ErrorCode.MODEL_BAD_OUTPUT
