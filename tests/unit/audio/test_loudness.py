import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.loudness import (
    LoudnessMeter,
    _gated_loudness,
    _loudness_range,
    measure_loudness,
)

pytestmark = pytest.mark.unit

RATE = 48000


def _tone(dbfs: float, seconds: float, n_channels: int = 2, rate: int = RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    mono = 10 ** (dbfs / 20) * np.sin(2 * np.pi * 1000 * t)
    return np.tile(mono.astype(np.float32), (n_channels, 1))


def _assert_no_nan(arrays: dict[str, np.ndarray]) -> None:
    for name, value in arrays.items():
        assert not np.isnan(value).any(), name


def test_headline_arrays_shapes_and_dtypes():
    r = measure_loudness(_tone(-23.0, 10.0), RATE, "stereo")
    arrays = r.as_arrays()
    for name in ("integrated_lufs", "loudness_range_lu", "true_peak_dbtp"):
        assert arrays[name].shape == () and arrays[name].dtype == np.float64
    assert arrays["short_term_lufs"].dtype == np.float32
    assert arrays["short_term_times_s"].dtype == np.float64
    # 3 s windows every 100 ms over 10 s: 100 hops - 30 + 1.
    assert arrays["short_term_lufs"].shape == arrays["short_term_times_s"].shape == (71,)
    np.testing.assert_allclose(arrays["short_term_times_s"][:2], [1.5, 1.6])
    assert arrays["true_peak_dbtp_per_channel"].shape == (2,)
    _assert_no_nan(arrays)


def test_as_arrays_names_every_field_once():
    r = measure_loudness(_tone(-23.0, 4.0), RATE, "stereo")
    arrays = r.as_arrays()
    assert list(arrays) == [
        "integrated_lufs",
        "loudness_range_lu",
        "true_peak_dbtp",
        "short_term_lufs",
        "short_term_times_s",
        "true_peak_dbtp_per_channel",
        "momentary_max_lufs",
        "gated_block_count",
        "duration_s",
        "sample_rate",
    ]
    assert arrays["gated_block_count"].dtype == np.int64 and arrays["sample_rate"] == RATE
    assert arrays["duration_s"] == pytest.approx(4.0) and arrays["gated_block_count"] > 0
    assert arrays["momentary_max_lufs"] == pytest.approx(-23.0, abs=0.1)


def test_chunks_of_exactly_one_hop_lose_no_hop():
    """A chunk that completes a 100 ms hop exactly closes it at once (the last hop too)."""
    x = _tone(-23.0, 4.1)  # 41 hops: an odd count, so no later chunk flushes a pending hop
    meter = LoudnessMeter(RATE, "stereo", 2)
    for start in range(0, x.shape[1], RATE // 10):
        meter.add(x[:, start : start + RATE // 10])
    streamed, whole = meter.result(), measure_loudness(x, RATE, "stereo")
    assert streamed.short_term_lufs.size == whole.short_term_lufs.size == 41 - 30 + 1
    assert streamed.gated_block_count == whole.gated_block_count == 41 - 4 + 1
    assert streamed.duration_s == whole.duration_s == pytest.approx(4.1)


def test_silence_is_measured_without_a_numpy_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log10(0) must not warn: -inf is the documented value
        r = measure_loudness(np.zeros((2, 4 * RATE), dtype=np.float32), RATE, "stereo")
    assert r.momentary_max_lufs == -np.inf and np.all(r.short_term_lufs == -np.inf)


def test_mono_reads_3db_below_the_same_tone_on_two_channels():
    # BS.1770 sums channel energies: one channel of a -23 dBFS sine is -23 - 3.01 LUFS.
    r = measure_loudness(_tone(-23.0, 5.0, n_channels=1)[0], RATE, "mono")
    assert r.integrated_lufs == pytest.approx(-23.0 - 10 * np.log10(2), abs=0.05)


@pytest.mark.parametrize("seconds", [0.0, 0.001, 0.1, 0.399])
def test_shorter_than_one_block(seconds):
    # No complete 400 ms block: nothing to gate. Documented as -inf, not NaN or a crash.
    r = measure_loudness(_tone(-20.0, seconds), RATE, "stereo")
    assert r.integrated_lufs == -np.inf
    assert r.momentary_max_lufs == -np.inf
    assert r.loudness_range_lu == 0.0
    assert r.gated_block_count == 0
    assert r.short_term_lufs.size == r.short_term_times_s.size == 0
    assert r.duration_s == pytest.approx(seconds, abs=1 / RATE)
    _assert_no_nan(r.as_arrays())


def test_between_one_block_and_three_seconds():
    r = measure_loudness(_tone(-20.0, 1.0), RATE, "stereo")
    assert r.integrated_lufs == pytest.approx(-20.0, abs=0.1)
    assert r.loudness_range_lu == 0.0  # no 3 s window yet
    assert r.short_term_lufs.size == 0


def test_digital_silence():
    r = measure_loudness(np.zeros((2, 5 * RATE), dtype=np.float32), RATE, "stereo")
    assert r.integrated_lufs == -np.inf
    assert r.true_peak_dbtp == -np.inf
    assert r.loudness_range_lu == 0.0
    assert r.gated_block_count == 0
    assert np.all(r.short_term_lufs == -np.inf)
    _assert_no_nan(r.as_arrays())


def test_below_absolute_gate_is_minus_inf():
    r = measure_loudness(_tone(-80.0, 5.0), RATE, "stereo")
    assert r.integrated_lufs == -np.inf
    assert r.momentary_max_lufs == pytest.approx(-80.0, abs=0.1)  # still measured


def test_lfe_only_stream_is_not_loud():
    x = _tone(-10.0, 2.0, n_channels=3)
    x[:2] = 0.0
    r = measure_loudness(x, RATE, "2.1")
    assert r.integrated_lufs == -np.inf
    assert r.true_peak_dbtp == pytest.approx(-10.0, abs=0.2)


def test_result_does_not_end_the_stream():
    x = _tone(-23.0, 6.0)
    meter = LoudnessMeter(RATE, "stereo", 2)
    meter.add(x[:, : 2 * RATE])
    early = meter.result()
    meter.add(x[:, 2 * RATE :])
    assert early.duration_s == pytest.approx(2.0)
    assert meter.result().integrated_lufs == measure_loudness(x, RATE, "stereo").integrated_lufs


def test_start_time_shifts_times():
    r = measure_loudness(_tone(-23.0, 4.0), RATE, "stereo", start_time_s=10.0)
    assert r.short_term_times_s[0] == pytest.approx(11.5)


def test_odd_rate_rounds_the_hop():
    r = measure_loudness(_tone(-23.0, 5.0, rate=11025), 11025, "stereo")
    assert r.integrated_lufs == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: measure_loudness(np.full((2, 100), np.nan), RATE, "stereo"), "INPUT_CORRUPT"),
        (lambda: measure_loudness(np.zeros((3, 100)), RATE, "stereo"), "INPUT_UNSUPPORTED"),
        (lambda: measure_loudness(np.zeros((2, 100)), RATE, "7.1.4"), "INPUT_UNSUPPORTED"),
        (lambda: measure_loudness(np.zeros((2, 100)), RATE, "no-such"), "INPUT_UNSUPPORTED"),
        (
            lambda: measure_loudness(np.zeros((2, 100), np.int16), RATE, "stereo"),
            "INPUT_UNSUPPORTED",
        ),
        (lambda: measure_loudness(np.zeros((2, 100)), 4000, "stereo"), "INPUT_UNSUPPORTED"),
    ],
)
def test_bad_input_raises_dp_error(call, code):
    with pytest.raises(DpError) as info:
        call()
    assert info.value.code == ErrorCode(code)


def test_chunk_with_other_channel_count_mid_stream():
    meter = LoudnessMeter(RATE, "stereo", 2)
    meter.add(np.zeros((2, 10)))
    with pytest.raises(DpError) as info:
        meter.add(np.zeros((1, 10)))
    assert info.value.code == ErrorCode.INPUT_CORRUPT


def test_exactly_one_block_and_exactly_one_short_term_window():
    r = measure_loudness(_tone(-20.0, 0.4), RATE, "stereo")
    assert r.gated_block_count == 1 and r.integrated_lufs == pytest.approx(-20.0, abs=0.1)
    r = measure_loudness(_tone(-20.0, 3.0), RATE, "stereo")
    assert r.short_term_lufs.size == 1 and r.short_term_times_s.tolist() == [1.5]


def test_a_block_exactly_at_the_absolute_gate_does_not_pass_it():
    """BS.1770-4 / Tech 3342 keep blocks *above* -70 LUFS."""
    assert _gated_loudness(np.array([-70.0]), -10.0) == (float("-inf"), 0)
    assert _loudness_range(np.array([-70.0, -70.0])) == 0.0
    # within 20 LU of the rest, so only the absolute gate keeps -70 out of the spread
    assert _loudness_range(np.array([-70.0] * 5 + [-60.0] * 5)) == 0.0


def _nearest_rank_lra(values: np.ndarray) -> float:
    """Tech 3342's reference: sorted values, nearest rank round((n - 1) * p / 100), rounding
    halves up, for p = 10 and 95 (no gate reached here: every value is within 20 LU)."""
    v = np.sort(values)
    n = v.size
    return float(v[int((n - 1) * 95 / 100 + 0.5)] - v[int((n - 1) * 10 / 100 + 0.5)])


@pytest.mark.parametrize("n", [7, 21, 25, 50, 99, 101, 206, 333, 1000])
def test_loudness_range_takes_the_nearest_ranks(n):
    values = -30.0 + 15.0 * np.random.default_rng(n).random(n) ** 2  # distinct, skewed
    assert _loudness_range(values) == pytest.approx(_nearest_rank_lra(values), abs=1e-12)


def test_mono_takes_planar_or_flat_chunks_and_bad_chunks_are_named():
    x = _tone(-23.0, 1.0, n_channels=1)
    flat, planar = LoudnessMeter(RATE, "mono", 1), LoudnessMeter(RATE, "mono", 1)
    flat.add(x[0])
    planar.add(x)  # [1, S]
    assert flat.result().integrated_lufs == planar.result().integrated_lufs
    with pytest.raises(DpError) as info:
        LoudnessMeter(RATE, "stereo", 2).add(x[0])
    assert info.value.code is ErrorCode.INPUT_CORRUPT
    assert info.value.message == (
        f"audio chunk has shape ({RATE},), expected [2, samples] (planar)"
    )
    with pytest.raises(DpError) as info:
        LoudnessMeter(RATE, "mono", 1).add((x * 32767).astype(np.int16))
    assert info.value.code is ErrorCode.INPUT_UNSUPPORTED
    assert info.value.message == "audio must be float in -1..1, got int16"


def test_meter_refusals_and_the_hop_length():
    assert LoudnessMeter(8000, "stereo", 2).hop == 800  # the lowest rate K-weighting allows
    with pytest.raises(DpError) as info:
        LoudnessMeter(7999, "stereo", 2)
    assert info.value.code is ErrorCode.INPUT_UNSUPPORTED
    assert info.value.message == "loudness needs audio at >= 8000 Hz, got 7999 Hz"
    with pytest.raises(DpError) as info:
        LoudnessMeter(RATE, "stereo", 3)
    assert info.value.message == "loudness: channel layout 'stereo' has 2 channels, the audio has 3"
    # 100 ms rounded to whole samples, halves up (as libebur128)
    assert [LoudnessMeter(r, "mono", 1).hop for r in (11025, 44104, 44105)] == [1103, 4410, 4411]
    x = _tone(-23.0, 0.1)
    x[0, 10] = np.nan
    with pytest.raises(DpError) as info:
        LoudnessMeter(RATE, "stereo", 2).add(x)
    assert info.value.code is ErrorCode.INPUT_CORRUPT
    assert info.value.message == "audio holds NaN or infinite samples"


def test_a_stream_of_only_lfe_channels_has_no_loudness_but_a_peak():
    x = _tone(-10.0, 4.0)  # two channels, both LFE: nothing that BS.1770 measures
    r = measure_loudness(x, RATE, "LFE+LFE2")
    assert r.integrated_lufs == -np.inf and r.gated_block_count == 0
    assert r.short_term_lufs.size == 11 and np.all(r.short_term_lufs == -np.inf)
    assert r.duration_s == pytest.approx(4.0)
    assert r.true_peak_dbtp == pytest.approx(-10.0, abs=0.2)
