"""Lineage you can trust (issue 14): every artifact names the inputs it was computed from
with their digests, a step reads the artifacts of its own run, and anything changed after it
was written (flipped bytes, a frames chunk swapped in from another video) is named and never
consumed. On a real Dagster instance and real folder storage."""

import shutil

import pytest
import yaml
from dagster import AssetKey, materialize

from dp_assets.components import catalog, load_profile
from dp_assets.definitions import Settings
from dp_assets.factory import component_asset
from dp_assets.resources import ProfileResource
from dp_assets.run_records import RANGE_END, RANGE_START
from dp_assets.uploads import prepare_upload, register_uploads
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact, encode_artifact
from dp_core.errors import ErrorCode
from dp_core.hashing import sha256_bytes
from dp_core.manifest import Manifest
from dp_core.storage_keys import artifact_key
from dp_resources.models.resource import ModelResource
from dp_resources.storage.resource import StorageResource
from io_managers.npz_io_manager import NpzIOManager, _materialized_in_run, latest_artifact_ref
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
PROFILE = {
    "name": "lineage",
    "components": {
        "segmenter": {"retry_backoff_s": 0.01},
        "cut_detection": {"retry_backoff_s": 0.01},
        "core_optical_flow": {},
        "video_pacing": {},
        "tempo_extractor": {},
    },
}


@pytest.fixture
def graph(tmp_path, dagster_instance):
    path = tmp_path / "lineage.yaml"
    path.write_text(yaml.safe_dump(PROFILE))
    profile = load_profile(str(path))
    assets = {name: component_asset(catalog()[name], profile) for name in profile.components}
    storage = StorageResource(base=str(tmp_path / "store"))
    resources = {
        "storage": storage,
        "profile": ProfileResource(profile=str(path)),
        "models": ModelResource(),
        "npz_io_manager": NpzIOManager(storage=storage),
    }

    def run(keys, selection):
        return materialize(
            list(assets.values()),
            selection=[assets[name] for name in selection],
            instance=dagster_instance,
            resources=resources,
            tags={RANGE_START: keys[0], RANGE_END: keys[-1]},
            raise_on_error=False,
        )

    return run, storage.get_storage(), path


def test_artifacts_name_their_inputs_and_the_manifest_their_digests(
    tmp_path, graph, dagster_instance
):
    _, _, path = graph
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=2.0, texture=True))
    [result], store = process_videos(
        dagster_instance,
        [str(clip)],
        Settings(storage_base=str(tmp_path / "store"), profile=str(path)),
        load_profile(str(path)),
        None,
        lambda _: None,
    )
    manifest = Manifest.model_validate_json(store.get_bytes(result.manifest_key))
    records = {c.name: c for c in manifest.components}
    for record in records.values():
        if record.artifact_key is None:
            continue
        data = store.get_bytes(record.artifact_key)
        assert record.sha256 == sha256_bytes(data)  # the manifest's digest is of the bytes
        meta = decode_artifact(data).meta
        for upstream in catalog()[record.name].inputs:
            ref = meta.inputs[upstream]
            assert ref.key == records[upstream].artifact_key
            assert ref.sha256 == records[upstream].sha256 and ref.run_id == result.run_id
    assert set(
        decode_artifact(store.get_bytes(records["video_pacing"].artifact_key)).meta.inputs
    ) == {
        "cut_detection",
        "core_optical_flow",
    }


def test_an_input_rewritten_after_it_was_written_is_named_and_never_consumed(
    tmp_path, graph, dagster_instance
):
    """The digest check on read, alone: the segmenter artifact is replaced by a valid NPZ of
    other content (its own arrays, one meta field more), so it decodes and only the sha256
    its writer recorded tells it apart. (Flipped bytes would also fail to decode.)"""
    run, store, _ = graph
    register_uploads(dagster_instance, [prepare_upload(make_clip(tmp_path / "v.mp4"))])
    first = run(["local__v"], ["segmenter"])
    assert first.success
    key = artifact_key("local__v", first.run_id, "segmenter")
    artifact = decode_artifact(store.get_bytes(key))
    artifact.meta = artifact.meta.model_copy(update={"rewritten": True})
    artifact.encoded = None
    rewritten = encode_artifact(artifact)
    assert decode_artifact(rewritten).arrays.keys() == artifact.arrays.keys()  # decodes
    store.put_bytes(key, rewritten)

    second = run(["local__v"], ["cut_detection"])  # reads the first run's segmenter
    meta = decode_artifact(
        store.get_bytes(artifact_key("local__v", second.run_id, "cut_detection"))
    ).meta
    assert meta.status == "error" and meta.error_code is ErrorCode.INPUT_CORRUPT
    assert key in meta.error_message and "sha256 its writer recorded" in meta.error_message
    assert meta.model_extra["attempts"] == 1  # never retried


def test_a_frames_chunk_swapped_in_from_another_video_is_detected(
    tmp_path, graph, dagster_instance
):
    run, store, _ = graph
    clips = {  # two videos of different content and the same stream layout
        "a": make_clip(tmp_path / "a.mp4", ClipSpec(duration_s=1.0, texture=True)),
        "b": make_clip(tmp_path / "b.mp4", ClipSpec(duration_s=1.0)),
    }
    register_uploads(dagster_instance, [prepare_upload(p) for p in clips.values()])
    first = run(["local__a", "local__b"], ["segmenter"])
    assert first.success
    chunk = "dense/00000.npz"
    swapped = f"frames_dir/local/b/{first.run_id}/{chunk}"
    shutil.copyfile(
        store.base + f"/frames_dir/local/a/{first.run_id}/{chunk}", store.base + "/" + swapped
    )

    second = run(["local__a", "local__b"], ["cut_detection"])
    metas = {
        name: decode_artifact(
            store.get_bytes(artifact_key(f"local__{name}", second.run_id, "cut_detection"))
        ).meta
        for name in ("a", "b")
    }
    assert metas["a"].status == "ok"  # the other video goes on
    assert metas["b"].status == "error" and metas["b"].error_code is ErrorCode.INPUT_CORRUPT
    assert swapped in metas["b"].error_message


def test_a_step_reads_its_own_runs_inputs_not_the_latest(tmp_path, graph, dagster_instance):
    """Two runs of the same video id (different files): each run's inputs are its own."""
    run, store, _ = graph
    long_clip = make_clip(tmp_path / "one" / "v.mp4", ClipSpec(duration_s=3.0))
    short_clip = make_clip(tmp_path / "two" / "v.mp4", ClipSpec(duration_s=1.0))
    register_uploads(dagster_instance, [prepare_upload(long_clip)])
    first = run(["local__v"], ["segmenter"])
    register_uploads(dagster_instance, [prepare_upload(short_clip)])
    second = run(["local__v"], ["segmenter"])
    segmenter = AssetKey("segmenter")
    latest = latest_artifact_ref(dagster_instance, segmenter, "local__v").key
    assert latest == artifact_key("local__v", second.run_id, "segmenter")
    own = _materialized_in_run(dagster_instance, first.run_id, segmenter)
    assert own["local__v"].key == artifact_key("local__v", first.run_id, "segmenter")
    # the whole graph in one run: every input is that run's own artifact
    third = run(["local__v"], list(PROFILE["components"]))
    assert third.success
    pacing = decode_artifact(
        store.get_bytes(artifact_key("local__v", third.run_id, "video_pacing"))
    ).meta
    assert {ref.run_id for ref in pacing.inputs.values()} == {third.run_id}
    duration = decode_artifact(
        store.get_bytes(artifact_key("local__v", third.run_id, "cut_detection"))
    ).arrays["shot_bounds_s"][-1, 1]
    assert duration == pytest.approx(1.0, abs=0.05)  # the short file this run segmented
