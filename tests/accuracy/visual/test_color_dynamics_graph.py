"""`color_dynamics` through the real graph: a red shot cut to a blue-and-white shot, encoded
with H.264, gives one palette per shot with those colours and their shares."""

import numpy as np
import pytest
import yaml

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.storage_keys import artifact_key
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.accuracy


def two_shots(fps=25, seconds=2, size=(180, 320)):
    """Red with a coarse checkerboard, then blue with vertical stripes and a white quarter.
    The patterns (28 grey levels deep, inside one quantisation bin) give the cut detector
    structure to compare: it treats flat single-colour frames as fades, not shots."""
    rows, cols = np.indices(size)
    checker = ((rows // 30 + cols // 30) % 2).astype(bool)
    stripes = ((cols // 20) % 2).astype(bool)
    red = np.empty((*size, 3), np.uint8)
    red[:] = (222, 30, 30)
    red[checker] = (194, 2, 2)
    blue = np.empty((*size, 3), np.uint8)
    blue[:] = (30, 30, 222)
    blue[stripes] = (2, 2, 194)
    blue[:, : size[1] // 4] = 250  # a white quarter on the left
    shots = [np.broadcast_to(shot, (fps * seconds, *size, 3)) for shot in (red, blue)]
    return np.concatenate(shots)


def test_palette_per_shot_from_a_real_encode(tmp_path, dagster_instance):
    frames = two_shots()
    clip = make_clip(
        tmp_path / "in" / "two_shots.mp4",
        ClipSpec(duration_s=4.0, width=320, height=180, audio=False, video_frames=frames),
    )
    profile = {
        "name": "colors",
        "components": {
            "segmenter": {},
            "cut_detection": {},
            "color_dynamics": {
                "frame_budget": {"fps": 2.0},
                "params": {"levels": 8, "palette_size": 3},
            },
        },
    }
    path = tmp_path / "colors.yaml"
    path.write_text(yaml.safe_dump(profile))
    settings = Settings(storage_base=str(tmp_path / "store"), profile=str(path))
    [result], store = process_videos(
        dagster_instance, [str(clip)], settings, load_profile(str(path)), None, lambda _: None
    )
    assert result.status == "success", result.message
    artifact = decode_artifact(
        store.get_bytes(artifact_key(result.partition_key, result.run_id, "color_dynamics"))
    )
    arrays = artifact.arrays
    assert artifact.meta.status == "ok"
    assert arrays["shot_bounds_s"].shape == (2, 2)
    assert arrays["shot_bounds_s"][0, 1] == pytest.approx(2.0, abs=0.08)
    # quantised to 8 levels (bin centres 16, 48, ..., 240): 194..222 -> 208, 2..30 -> 16
    assert tuple(arrays["shot_palette_rgb"][0, 0]) == (208, 16, 16)
    assert arrays["shot_palette_share"][0, 0] > 0.95
    assert tuple(arrays["shot_palette_rgb"][1, 0]) == (16, 16, 208)
    assert tuple(arrays["shot_palette_rgb"][1, 1]) == (240, 240, 240)
    assert arrays["shot_palette_share"][1, :2] == pytest.approx([0.75, 0.25], abs=0.04)
    # BT.709 luma of the two shots (H.264's 4:2:0 chroma costs a little at the edges)
    red_luma = (np.array([208, 16, 16]) / 255) @ [0.2126, 0.7152, 0.0722]
    times, brightness = arrays["frame_times_s"], arrays["brightness"]
    assert brightness[times < 1.9] == pytest.approx(red_luma, abs=0.02)
    assert int(arrays["palette_colors"]) == 2
