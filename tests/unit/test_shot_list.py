"""Shot rows as PySceneDetect writes them: our CSV equals scenedetect's own
`write_scene_list` for the same scenes (integer and NTSC rates, an hour-long shot), and the
frame / timecode helpers behind it."""

import io
from fractions import Fraction

import numpy as np
import pytest
from scenedetect import FrameTimecode
from scenedetect.scene_manager import write_scene_list

from dp_cli.shot_list import Shot, frame_index, shots_csv, shots_of, smpte, timecode

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "fps",
    [25.0, float(Fraction(30000, 1001)), float(Fraction(24000, 1001)), 60.0, 12.5],
)
def test_our_csv_is_pyscenedetects_for_the_same_scenes(fps):
    bounds = [(0, 38), (38, 76), (76, 1000), (1000, 110_000)]
    scenes = [(FrameTimecode(a, fps), FrameTimecode(b, fps)) for a, b in bounds]
    theirs = io.StringIO()
    write_scene_list(theirs, scenes, include_cut_list=False)
    ours = shots_csv([Shot(i + 1, a, b, fps, "hard", 1.0) for i, (a, b) in enumerate(bounds)])
    assert ours.splitlines() == theirs.getvalue().splitlines()


def test_timecodes_frames_and_smpte():
    assert timecode(0.0) == "00:00:00.000"
    assert timecode(3661.0016) == "01:01:01.002"
    assert timecode(59.9996) == "00:01:00.000"  # milliseconds carry into the minute
    assert frame_index(1.52, 25.0) == 38 and frame_index(0.02, 25.0) == 1  # halves round up
    assert smpte(0, 25.0) == "00:00:00:00" and smpte(38, 25.0) == "00:00:01:13"
    assert smpte(30 * 3600 + 29, float(Fraction(30000, 1001))) == "01:00:00:29"  # NDF at 30


def test_shots_take_the_kind_and_confidence_of_the_cut_they_start_at():
    bounds = np.array([[0.0, 1.52], [1.52, 3.04], [3.04, 4.52]])
    shots = shots_of(
        bounds,
        np.array([1.52, 3.06]),  # a gradual cut whose span ends after the shot starts
        np.array(["hard", "gradual"]),
        np.array([0.9, 0.6], np.float32),
        25.0,
        frame_count=112,  # the picture ends before the last bound (audio outlasts it)
    )
    assert [(s.first, s.stop) for s in shots] == [(0, 38), (38, 76), (76, 112)]
    assert [s.kind for s in shots] == ["start", "hard", "gradual"]
    assert shots[0].confidence is None and shots[2].confidence == pytest.approx(0.6)
    assert shots[2].as_json()["end_timecode"] == "00:00:04.480"
