import numpy as np
import pytest

from dp_features.video.sampling import (
    TimeSampler,
    budget_indices,
    fit_inside,
    rotate_upright,
    scale_to_width,
)

pytestmark = pytest.mark.unit


def take_all(sampler: TimeSampler, times):
    return [t for t in times if sampler.take(t)]


def test_time_sampler_picks_first_frame_at_or_after_each_target():
    times = np.arange(100) / 25.0  # 4 s at 25 fps
    picked = take_all(TimeSampler(2.0), times)
    np.testing.assert_allclose(picked, [0.0, 0.52, 1.0, 1.52, 2.0, 2.52, 3.0, 3.52])
    assert len(take_all(TimeSampler(None), times)) == 100


def test_time_sampler_on_variable_frame_rate_skips_gaps_without_duplicates():
    times = [0.0, 0.04, 0.08, 1.7, 1.74, 3.0]
    assert take_all(TimeSampler(2.0), times) == [0.0, 1.7, 3.0]


def test_time_sampler_faster_than_source_takes_every_frame_once():
    times = np.arange(10) / 10.0
    assert len(take_all(TimeSampler(30.0), times)) == 10


def test_budget_indices():
    times = np.arange(20) / 2.0  # 2 fps, 10 s
    assert budget_indices(times, None, None).tolist() == list(range(20))
    five = budget_indices(times, 5, None)
    assert len(five) == 5 and five[0] == 0 and five[-1] == 19
    one_fps = budget_indices(times, None, 1.0)
    np.testing.assert_allclose(times[one_fps], np.arange(10))
    assert budget_indices(np.array([]), 4, 1.0).tolist() == []


def test_sizes_keep_aspect_even_and_never_upscale():
    assert fit_inside(1280, 720, 640, 640) == (640, 360)
    assert fit_inside(720, 1280, 640, 640) == (360, 640)
    assert fit_inside(320, 240, 640, 640) == (320, 240)
    assert scale_to_width(1280, 720, 160) == (160, 90)
    assert scale_to_width(175, 143, 160) == (160, 130)


def test_rotate_upright_turns_counter_clockwise():
    frame = np.zeros((2, 3, 1), np.uint8)
    frame[:, 0] = 255  # left column bright
    rotated = rotate_upright(frame, 90)
    assert rotated.shape == (3, 2, 1)
    assert rotated[-1].min() == 255  # counter-clockwise: the left edge becomes the bottom
    assert rotate_upright(frame, -90)[0].min() == 255
    assert rotate_upright(frame, 0) is frame
