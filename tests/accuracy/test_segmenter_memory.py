"""Memory must not grow with video length: peak RSS of segmenting a 2-minute clip vs a
10-second clip, each in a fresh process, must be within a small margin."""

import json
import subprocess
import sys

import pytest

from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.accuracy

MEASURE = """
import json, resource, sys
from pathlib import Path
from dp_assets.components import analysis_readers, load_profile, parse_profile
from dp_resources.media.segmentation import segment_video
from dp_resources.storage.backends import LocalStorage
data = load_profile("cpu_baseline").model_dump(mode="json")
data["audio"]["chunk_seconds"] = 5
data["limits"]["frames_per_chunk"] = 32
profile = parse_profile(data)
clip, store = Path(sys.argv[1]), LocalStorage(sys.argv[2])
result = segment_video(clip, store, "frames_dir/local/x/run", profile, analysis_readers(profile))
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "frames": result.metadata["decoded_frames"]}))
"""


def peak_rss_kb(clip, store) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(clip), str(store)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_memory_is_flat_in_video_length(media_dir, tmp_path):
    spec = dict(width=320, height=240, fps=25)
    short = make_clip(media_dir / "short10.mp4", ClipSpec(duration_s=10, **spec))
    long = make_clip(media_dir / "long120.mp4", ClipSpec(duration_s=120, **spec))
    short_run = peak_rss_kb(short, tmp_path / "a")
    long_run = peak_rss_kb(long, tmp_path / "b")
    assert long_run["frames"] == 3000 and short_run["frames"] == 250
    growth_mb = (long_run["peak_kb"] - short_run["peak_kb"]) / 1024
    # holding the decoded video would cost >170 MB here (3000 dense frames alone)
    assert growth_mb < 20, f"peak RSS grew by {growth_mb:.0f} MB for 12x the video length"
