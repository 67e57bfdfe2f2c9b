"""Components that declare `parallel_videos` compute the videos of a step in threads: the
artifacts are exactly those of one video at a time (no state shared between videos), and
every video still gets its own artifact and metadata. Real Dagster instance, in process."""

import numpy as np
import pytest

from dp_assets.components import catalog
from dp_core.artifact import decode_artifact
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_reuse import process_with

pytestmark = pytest.mark.integration
COMPONENTS = {
    "segmenter": {},
    "cut_detection": {},
    "core_optical_flow": {},
    "color_dynamics": {"frame_budget": {"fps": 2.0}},
    "loudness_extractor": {},
    "tempo_extractor": {},
    "video_pacing": {},
}


def _arrays(results, store) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    from dp_core.manifest import Manifest

    found = {}
    for r in results:
        manifest = Manifest.model_validate_json(store.get_bytes(r.manifest_key))
        for c in manifest.components:
            if c.name not in COMPONENTS:
                continue  # not in this profile (skipped)
            assert c.artifact_key, (c.name, c.status, c.error_code, c.error_message)
            artifact = decode_artifact(store.get_bytes(c.artifact_key))
            assert artifact.meta.status == "ok", (c.name, artifact.meta.error_message)
            found[(r.video_id, c.name)] = artifact.arrays
    return found


def test_threads_give_the_artifacts_of_one_video_at_a_time(tmp_path, dagster_instance):
    assert all(catalog()[name].parallel_videos for name in COMPONENTS if name != "cut_detection")
    clips = [  # different content per video: a mix-up between threads would show
        make_clip(tmp_path / "in" / f"v{i}.mp4", ClipSpec(duration_s=2.0 + i, texture=i % 2 == 0))
        for i in range(4)
    ]
    runs = {}
    for threads in (1, 3):
        components = {"batching": {"video_threads": threads}}
        folder = tmp_path / f"threads{threads}"
        folder.mkdir()
        results, store = process_with(
            dagster_instance, folder, clips, COMPONENTS, force=True, extra=components
        )
        assert all(r.status == "success" for r in results), [r.message for r in results]
        runs[threads] = _arrays(results, store)
    assert runs[1].keys() == runs[3].keys() and len(runs[1]) == 4 * len(COMPONENTS)
    for key, arrays in runs[1].items():
        assert arrays.keys() == runs[3][key].keys(), key
        for name, value in arrays.items():
            np.testing.assert_array_equal(value, runs[3][key][name], err_msg=f"{key} {name}")
