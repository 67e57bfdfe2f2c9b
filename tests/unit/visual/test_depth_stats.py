"""Unit tests of dp_features.visual.depth_stats: synthetic depth maps with known statistics."""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.visual.depth_stats import depth_statistics

pytestmark = pytest.mark.unit


def _ramp(height: int, width: int, scale: float = 7.0, shift: float = 3.0) -> np.ndarray:
    """Inverse depth rising left to right, with an arbitrary scale and shift (as MiDaS)."""
    row = np.linspace(0.0, 1.0, width, dtype=np.float32)
    return (shift + scale * np.tile(row, (height, 1))).astype(np.float32)


def test_ramp_statistics():
    maps = np.stack([_ramp(90, 120), _ramp(90, 120, scale=0.01, shift=-5.0)])
    result = depth_statistics(maps, np.array([0.0, 1.0]))
    assert result.status == "ok"
    for i in range(2):  # scale and shift do not matter
        assert result.depth_p50[i] == pytest.approx(0.5, abs=0.01)
        assert result.depth_mean[i] == pytest.approx(0.5, abs=0.01)
        assert result.depth_std[i] == pytest.approx(1.0 / np.sqrt(12.0), abs=0.01)
        assert result.depth_p10[i] == pytest.approx(0.1, abs=0.01)
        assert result.depth_p90[i] == pytest.approx(0.9, abs=0.01)
        assert result.near_fraction[i] == pytest.approx(1.0 / 3.0, abs=0.01)
    np.testing.assert_allclose(result.depth_range_raw, [7.0, 0.01], rtol=1e-3)
    small = result.depth_maps
    assert small.shape == (2, 64, 64) and small.dtype == np.float16
    # Area averaging keeps the ramp: columns rise from ~0 to ~1, rows are all alike.
    columns = small[0].astype(np.float32).mean(axis=0)
    assert np.all(np.diff(columns) > 0)
    assert columns[0] < 0.02 and columns[-1] > 0.98
    assert float(small[0].astype(np.float32).mean()) == pytest.approx(0.5, abs=0.01)


def test_near_object_and_video_means():
    near_half = np.zeros((40, 40), np.float32)
    near_half[:, 20:] = 5.0  # an object filling the right half, far background
    maps = np.stack([_ramp(40, 40), near_half])
    result = depth_statistics(maps, np.array([0.0, 2.0]), map_size=8)
    assert result.near_fraction[1] == pytest.approx(0.5)
    assert result.depth_p10[1] == 0.0 and result.depth_p90[1] == 1.0
    means = result.video_means()
    assert means["video_near_fraction"] == pytest.approx(
        float(np.mean(result.near_fraction, dtype=np.float64))
    )
    assert means["video_depth_p50"] == pytest.approx(float(np.mean(result.depth_p50)), rel=1e-6)
    arrays = result.as_arrays()
    assert set(means) <= set(arrays)
    for name, array in arrays.items():
        assert array.dtype.kind in "fiu", name


def test_area_downsampling_is_exact():
    rng = np.random.default_rng(0)
    blocks = rng.uniform(size=(32, 32)).astype(np.float32)
    blocks[0, 0], blocks[0, 1] = 0.0, 1.0  # pin min and max: normalising changes nothing
    big = np.kron(blocks, np.ones((4, 4), np.float32))  # 128 x 128, 4 x 4 blocks
    down = depth_statistics(big[None], np.zeros(1), map_size=32).depth_maps[0]
    np.testing.assert_allclose(down.astype(np.float32), blocks, atol=1e-3)  # float16
    # A non-integer factor (128 -> 48) still averages by area: the mean is kept.
    odd = depth_statistics(big[None], np.zeros(1), map_size=48).depth_maps[0]
    assert float(odd.astype(np.float32).mean()) == pytest.approx(float(big.mean()), abs=1e-3)
    # Enlarging (32 -> 64) repeats each pixel 2 x 2.
    up = depth_statistics(blocks[None], np.zeros(1), map_size=64).depth_maps[0]
    np.testing.assert_allclose(up.astype(np.float32), np.kron(blocks, np.ones((2, 2))), atol=1e-3)


def test_flat_map_has_no_depth_structure():
    result = depth_statistics(np.full((1, 10, 10), 3.0, np.float32), np.zeros(1), map_size=4)
    assert result.depth_range_raw[0] == 0.0
    assert result.depth_mean[0] == 0.0 and result.near_fraction[0] == 0.0
    assert np.all(result.depth_maps == 0)


def test_many_frames_in_blocks():
    # More frames than one processing block: every frame is still its own.
    maps = np.stack([_ramp(8, 8, scale=1.0 + i) for i in range(70)])
    maps[65] = 0.0
    result = depth_statistics(maps, np.arange(70.0), map_size=4)
    assert result.depth_p50.shape == (70,)
    assert result.depth_range_raw[65] == 0.0 and result.depth_range_raw[66] == pytest.approx(67.0)
    np.testing.assert_allclose(np.delete(result.depth_mean, 65), 0.5, atol=1e-5)


def test_empty_and_bad_inputs():
    empty = depth_statistics(np.zeros((0, 32, 32), np.float32), np.zeros(0))
    assert empty.status == "empty" and empty.reason
    assert empty.depth_maps.shape == (0, 64, 64)
    assert np.isnan(empty.as_arrays()["video_depth_mean"])
    for bad in (np.nan, np.inf, -np.inf):
        maps = _ramp(8, 8)[None].copy()
        maps[0, 3, 3] = bad
        with pytest.raises(DpError) as err:
            depth_statistics(maps, np.zeros(1))
        assert err.value.code == ErrorCode.MODEL_BAD_OUTPUT
    with pytest.raises(DpError) as err:
        depth_statistics(np.zeros((2, 8, 8), np.float32), np.zeros(3))
    assert err.value.code == ErrorCode.MODEL_BAD_OUTPUT
    with pytest.raises(DpError) as err:
        depth_statistics(np.zeros((2, 8), np.float32), np.zeros(2))
    assert err.value.code == ErrorCode.MODEL_BAD_OUTPUT
    with pytest.raises(DpError) as err:
        depth_statistics(np.zeros((1, 8, 8), np.float32), np.zeros(1), map_size=0)
    assert err.value.code == ErrorCode.CONFIG_INVALID
