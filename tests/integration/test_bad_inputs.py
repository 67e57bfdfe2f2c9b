"""SPEC "Bad input and failure": a folder mixing good and bad files, end to end on a real
Dagster instance. Every good video finishes; every bad one gets its error code in the
summary, its manifest, its journal and its asset check; nothing else is lost."""

import json

import pytest
from dagster import DagsterEventType

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.manifest import Manifest
from dp_core.state_journal import decode_events
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration


def build_folder(folder):
    clip = dict(duration_s=1.0, width=160, height=120)
    make_clip(folder / "good.mp4", ClipSpec(**clip))
    (folder / "zero_bytes.mp4").write_bytes(b"")
    (folder / "text_named.mp4").write_text("this is a text file, not a video\n" * 40)
    full = make_clip(folder / "_full.mkv", ClipSpec(duration_s=3.0, audio=False)).read_bytes()
    (folder / "truncated_header.mp4").write_bytes(full[:300])
    (folder / "_full.mkv").unlink()
    make_clip(folder / "audio_only.m4a", ClipSpec(video=False, duration_s=1.0))
    make_clip(folder / "video_only.mp4", ClipSpec(audio=False, **clip))
    make_clip(
        folder / "vfr.mp4",
        ClipSpec(duration_s=2.0, frame_times_s=(0, 0.04, 0.5, 0.54, 1.6), audio=False),
    )
    make_clip(folder / "rotated.mp4", ClipSpec(rotation=-90, marker=True, **clip))
    make_clip(folder / "one_frame.mp4", ClipSpec(duration_s=0.04, audio=False))
    make_clip(folder / "huge.mp4", ClipSpec(duration_s=0.04, width=8192, height=4320, audio=False))
    make_clip(folder / "bad_sidecar.mp4", ClipSpec(**clip))
    (folder / "bad_sidecar.json").write_bytes(b'{"title": "\xff\xfe broken"}')
    make_clip(folder / "unknown_platform.mp4", ClipSpec(**clip))
    (folder / "unknown_platform.json").write_text(json.dumps({"platform": "myspace"}))
    make_clip(folder / "hostile.mp4", ClipSpec(**clip))
    (folder / "hostile.json").write_text(json.dumps({"platform": "youtube", "video_id": "../../x"}))


EXPECTED = {
    # file: (status, error_code or None)
    "good.mp4": ("success", None),
    "zero_bytes.mp4": ("error", "INPUT_CORRUPT"),
    "text_named.mp4": ("error", "INPUT_CORRUPT"),
    "truncated_header.mp4": ("error", "INPUT_CORRUPT"),
    "audio_only.m4a": ("success", None),
    "video_only.mp4": ("success", None),
    "vfr.mp4": ("success", None),
    "rotated.mp4": ("success", None),
    "one_frame.mp4": ("success", None),
    "huge.mp4": ("error", "RESOURCE_EXHAUSTED"),
    "bad_sidecar.mp4": ("success", None),  # only the text components read the sidecar
    "unknown_platform.mp4": ("error", "INPUT_UNSUPPORTED"),
    "hostile.mp4": ("success", None),
}


def test_a_folder_of_good_and_bad_inputs(tmp_path, dagster_instance):
    folder = tmp_path / "inbox"
    folder.mkdir()
    build_folder(folder)
    results, storage = process_videos(
        dagster_instance,
        [str(folder)],
        Settings(storage_base=str(tmp_path / "store")),
        load_profile("cpu_baseline"),
        5,
        lambda line: None,
    )
    by_file = {r.source.rsplit("/", 1)[-1]: r for r in results}
    assert {f: (r.status, r.error_code) for f, r in by_file.items()} == EXPECTED
    for name, result in by_file.items():
        if name == "unknown_platform.mp4":
            assert "myspace" in result.message and result.run_id is None  # refused at registration
            continue
        manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
        segmenter = manifest.component("segmenter")
        expected_status, expected_code = EXPECTED[name]
        assert manifest.run.status == expected_status
        if expected_code:
            assert segmenter.error_code.value == expected_code and name.split(".")[0] != ""
            assert result.message and "/" not in result.message.split(":")[0]
            # dependants did not crash: they report the dependency
            for dependant in ("loudness_extractor", "tempo_extractor"):
                assert manifest.component(dependant).error_code.value == "DEPENDENCY_ERROR"
        journal = decode_events(
            storage.get_bytes(
                result.manifest_key.replace("result_store/", "state/", 1).replace(
                    "manifest.json", "state_events.jsonl"
                )
            )
        )
        final = {e.component: e.state for e in journal}
        assert final["segmenter"] == ("error" if expected_code else "success")
        assert final["core_clip"] == "skipped"

    assert (
        by_file["hostile.mp4"].video_id == "../../x"
        and by_file["hostile.mp4"].platform == "youtube"
    )
    audio_only = Manifest.model_validate_json(
        storage.get_bytes(by_file["audio_only.m4a"].manifest_key)
    )
    assert audio_only.component("loudness_extractor").status == "success"
    video_only = Manifest.model_validate_json(
        storage.get_bytes(by_file["video_only.mp4"].manifest_key)
    )
    assert video_only.component("loudness_extractor").status == "empty"

    # per-video asset-check results: failed for exactly the bad videos that ran
    runs = {r.run_id for r in results if r.run_id}
    evaluations = {}
    for run_id in runs:
        for record in dagster_instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        ).records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if evaluation.partition and evaluation.asset_key.path == ["segmenter"]:
                evaluations[evaluation.partition] = evaluation.passed
    assert evaluations == {r.partition_key: r.status == "success" for r in results if r.run_id}
