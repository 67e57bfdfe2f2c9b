"""The model-based visual components through the whole graph on labelled stand-ins (CLIP,
MiDaS) and MediaPipe: cross-video batching in one step, repeats found by uniqueness, scene
labels per shot, story structure naming its signals, depth maps per frame."""

import math
import shutil

import numpy as np
import pytest

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
from dp_resources.models.registry import model_folder
from dp_tools.nanodet import prepare_nanodet
from dp_tools.stand_ins.clap import build_clap_stand_in
from dp_tools.stand_ins.clip import build_clip_stand_in
from dp_tools.stand_ins.midas import build_midas_stand_in
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration

FPS, SHOT_S, W, H = 10, 3.0, 160, 120


def shot_frames(seed: int) -> np.ndarray:
    """One shot: a still picture of smooth random colour blocks (its own `seed`)."""
    coarse = np.random.default_rng(seed).integers(0, 256, (H // 20, W // 20, 3))
    picture = np.repeat(np.repeat(coarse, 20, 0), 20, 1).astype(np.uint8)
    return np.repeat(picture[None], int(SHOT_S * FPS), axis=0)


def clip_of_shots(path, seeds: list[int]):
    frames = np.concatenate([shot_frames(s) for s in seeds])
    spec = ClipSpec(duration_s=len(frames) / FPS, fps=FPS, width=W, height=H, video_frames=frames)
    return make_clip(path, spec)


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(prepare_nanodet(), models / "nanodet")  # the real detector, prepared once
    (models / "transnetv2").symlink_to(model_folder("transnetv2"))  # cpu_baseline's cut step
    monkeypatch.setenv("DP_MODEL_DIR", str(models))
    for build, name in ((build_clap_stand_in, "clap"), (build_clip_stand_in, "clip")):
        build(models / name)
    build_midas_stand_in(models / "midas")
    return models


def test_visual_models_on_stand_ins_across_two_videos(tmp_path, dagster_instance, stand_ins):
    repeat = clip_of_shots(tmp_path / "repeat.mp4", [1, 2, 1])  # A B A: the third repeats
    distinct = clip_of_shots(tmp_path / "distinct.mp4", [3, 4])
    results, storage = process_videos(
        dagster_instance,
        [str(repeat), str(distinct)],
        Settings(storage_base=str(tmp_path / "store"), profile="cpu_stand_in"),
        load_profile("cpu_stand_in"),
        None,
        lambda line: None,
    )
    by_video = {r.video_id: r for r in results}
    assert {r.status for r in results} == {"success"}
    assert len({r.run_id for r in results}) == 1  # one run, one step per component

    def artifact(video_id, component):
        manifest = Manifest.model_validate_json(storage.get_bytes(by_video[video_id].manifest_key))
        record = manifest.component(component)
        assert record.status in ("success", "empty"), (component, record.error_message)
        return decode_artifact(storage.get_bytes(record.artifact_key))

    clips = {v: artifact(v, "core_clip") for v in ("repeat", "distinct")}
    frames = {v: len(a.arrays["frame_times_s"]) for v, a in clips.items()}
    assert frames == {"repeat": 9, "distinct": 6}  # 1 fps budget over 9 s and 6 s
    for a in clips.values():
        np.testing.assert_allclose(np.linalg.norm(a.arrays["embeddings"], axis=1), 1, atol=1e-5)
        assert [m.stand_in for m in a.meta.models_used] == [True]
        # both videos' 15 frames went through the model together: one call of batch 32
        assert a.meta.model_batch["calls"] == math.ceil(15 / 32)

    for video in ("repeat", "distinct"):  # NanoDet too: 15 frames, batch 8 -> 2 calls
        objects = artifact(video, "core_object_detections")
        assert objects.meta.model_batch["calls"] == math.ceil(15 / 8)
        assert len(objects.arrays["frame_times_s"]) == frames[video]

    unique = artifact("repeat", "uniqueness").arrays
    assert unique["shot_bounds_s"].shape == (3, 2)
    assert float(unique["repeated_shot_ratio"]) == pytest.approx(1 / 3)
    assert {"clip_embeddings", "shot_bounds"} <= set(unique["signals_used"].tolist())
    assert float(artifact("distinct", "uniqueness").arrays["repeated_shot_ratio"]) == 0.0

    scenes = artifact("repeat", "scene_classification")
    assert scenes.arrays["shot_labels"].shape == (3,)
    assert scenes.arrays["shot_labels"][0] == scenes.arrays["shot_labels"][2]  # same picture
    np.testing.assert_allclose(scenes.arrays["shot_label_scores"].sum(axis=1), 1, atol=1e-5)
    assert any(m.name.endswith("-text") for m in scenes.meta.models_used)

    story = artifact("repeat", "story_structure").arrays
    assert {"cut_rate", "motion", "loudness"} <= set(story["signals_used"].tolist())
    assert 0.0 <= float(story["climax_position"]) <= 1.0

    depth = artifact("distinct", "core_depth_midas")
    assert depth.arrays["depth_maps"].shape == (3, 64, 64)  # 0.5 fps budget over 6 s
    assert depth.meta.models_used[0].stand_in

    faces = artifact("repeat", "core_face_landmarks")
    assert faces.meta.status == "empty"  # colour blocks: no face, not an error


def test_cpu_baseline_finds_the_face_and_the_person_in_a_real_photo(
    tmp_path, dagster_instance, sample_photos
):
    """The astronaut photo as a 3 s clip through cpu_baseline: MediaPipe finds her face and
    NanoDet a person on every budgeted frame (1 fps); models are the real ones."""
    from PIL import Image

    photo = np.asarray(Image.open(sample_photos["astronaut"]).convert("RGB").resize((320, 320)))
    frames = np.repeat(photo[None], 30, axis=0)
    clip = make_clip(
        tmp_path / "astronaut.mp4",
        ClipSpec(duration_s=3.0, fps=10, width=320, height=320, video_frames=frames),
    )
    [result], storage = process_videos(
        dagster_instance,
        [str(clip)],
        Settings(storage_base=str(tmp_path / "store"), profile="cpu_baseline"),
        load_profile("cpu_baseline"),
        None,
        lambda line: None,
    )
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    faces = decode_artifact(
        storage.get_bytes(manifest.component("core_face_landmarks").artifact_key)
    )
    assert faces.arrays["face_count"].tolist() == [1, 1, 1]
    assert not any(m.stand_in for m in faces.meta.models_used)
    objects = decode_artifact(
        storage.get_bytes(manifest.component("core_object_detections").artifact_key)
    )
    people = objects.arrays["class_names"] == "person"
    assert sorted(set(objects.arrays["box_frame"][people].tolist())) == [0, 1, 2]
    assert objects.arrays["scores"][people].max() > 0.5
