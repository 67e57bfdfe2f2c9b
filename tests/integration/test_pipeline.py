"""The whole graph on a real Dagster instance (SQLite in a temp folder), in process."""

import json

import numpy as np
import pytest
from dagster import AssetKey, DagsterEventType, DagsterRunStatus, Definitions

from dp_assets.components import load_profile
from dp_assets.definitions import PROCESS_JOB, Settings, build_definitions
from dp_assets.partitions import VIDEOS
from dp_assets.planning import plan_batches
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
from dp_core.state_journal import decode_events
from dp_resources.storage.backends import LocalStorage
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration


def run(instance, paths, storage_base, batch_size=None, force=False):
    settings = Settings(storage_base=str(storage_base))
    lines = []
    results, storage = process_videos(
        instance,
        [str(p) for p in paths],
        settings,
        load_profile("cpu_baseline"),
        batch_size,
        lines.append,
        force=force,
    )
    return results, storage, lines


def strings_in(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
    elif isinstance(value, str):
        yield value


def test_definitions_load_and_every_component_is_partitioned():
    defs = build_definitions(Settings(storage_base="/tmp/unused"))
    Definitions.validate_loadable(defs)
    job = defs.resolve_job_def(PROCESS_JOB)
    assert job.partitions_def.name == VIDEOS
    segmenter = defs.resolve_assets_def(AssetKey("segmenter"))
    assert segmenter.partitions_def.name == VIDEOS and segmenter.backfill_policy is not None


def test_good_and_bad_videos_in_one_batch(tmp_path, dagster_instance):
    media = tmp_path / "in"
    for i in range(2):
        make_clip(media / f"good{i}.mp4", ClipSpec(duration_s=1.0))
    corrupt = media / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x13" * 4000)
    make_clip(media / "hostile.mp4", ClipSpec(duration_s=0.5, audio=False))
    (media / "hostile.json").write_text(json.dumps({"video_id": "../../etc/passwd", "title": "x"}))
    store_dir = tmp_path / "store"

    results, storage, lines = run(dagster_instance, [media], store_dir)

    by_name = {r.source.rsplit("/", 1)[-1]: r for r in results}
    assert {n: r.status for n, r in by_name.items()} == {
        "corrupt.mp4": "error",
        "good0.mp4": "success",
        "good1.mp4": "success",
        "hostile.mp4": "success",
    }
    assert by_name["corrupt.mp4"].error_code == "INPUT_CORRUPT"
    assert len({r.run_id for r in results}) == 1  # one batched run, not one per video
    assert any("segmenter" in line and "INPUT_CORRUPT" in line for line in lines)  # progress

    # nothing escaped the storage base; the hostile id kept its identity in the manifest
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(media)]
    assert all(p.is_relative_to(store_dir) or "dagster_home" in p.parts for p in written)
    hostile_result = by_name["hostile.mp4"]
    assert hostile_result.video_id == "../../etc/passwd" and "/" not in hostile_result.partition_key

    for result in results:
        manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
        assert manifest.run.run_id == result.run_id and manifest.run.profile == "cpu_baseline"
        assert manifest.run.config_hash == load_profile("cpu_baseline").config_hash
        raw = json.loads(storage.get_bytes(result.manifest_key))
        assert not any(s.startswith("/") or str(tmp_path) in s for s in strings_in(raw))
        segmenter = manifest.component("segmenter")
        assert manifest.component("core_clip").status == "skipped"
        artifact = decode_artifact(storage.get_bytes(segmenter.artifact_key))
        meta = artifact.meta
        assert (meta.run_id, meta.video_id, meta.component) == (
            result.run_id,
            result.video_id,
            "segmenter",
        )
        events = decode_events(
            storage.get_bytes(
                f"state/{meta.platform}/{result.partition_key.split('__', 1)[1]}/"
                f"{result.run_id}/state_events.jsonl"
            )
        )
        states = [e.state for e in events if e.component == "segmenter"]
        if result.status == "success":
            assert segmenter.status == "success" and states == ["waiting", "running", "success"]
            assert meta.analysis_fps == 2.0 and meta.analysis_width > 0
            assert len(artifact.arrays["analysis_times_s"]) >= 1
            assert segmenter.duration_ms > 0
        else:
            assert segmenter.status == "error" and segmenter.error_code.value == "INPUT_CORRUPT"
            assert states == ["waiting", "running", "error"] and meta.status == "error"
            assert manifest.run.status == "error"

    # Dagster shows every video materialized, with per-video status in its metadata
    statuses = {}
    for result in results:
        record = dagster_instance.fetch_materializations(
            __import__("dagster").AssetRecordsFilter(
                asset_key=AssetKey("segmenter"), asset_partitions=[result.partition_key]
            ),
            limit=1,
        ).records[0]
        statuses[result.partition_key] = record.asset_materialization.metadata["status"].value
    assert sorted(statuses.values()) == ["error", "ok", "ok", "ok"]

    # the blocking status check judged each video on its own and let the batch pass
    run_id = results[0].run_id
    evaluations = {
        e.partition: e.passed
        for e in check_evaluations(dagster_instance, run_id)
        if e.partition is not None
    }
    assert evaluations == {r.partition_key: r.status == "success" for r in results}
    assert dagster_instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS


def check_evaluations(instance, run_id):
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    return [r.event_log_entry.dagster_event.event_specific_data for r in records]


def test_a_single_video_run_stops_on_a_required_failure(tmp_path, dagster_instance):
    bad = tmp_path / "only.mp4"
    bad.write_bytes(b"plain text, not a video")
    [result], storage, _ = run(dagster_instance, [bad], tmp_path / "store")
    assert result.status == "error" and result.error_code == "INPUT_CORRUPT"
    assert dagster_instance.get_run_by_id(result.run_id).status == DagsterRunStatus.FAILURE
    [overall] = [
        e for e in check_evaluations(dagster_instance, result.run_id) if e.partition is None
    ]
    assert overall.passed is False and overall.blocking
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    assert manifest.run.dagster_run_status == "FAILURE" and manifest.run.status == "error"
    assert manifest.component("segmenter").error_code.value == "INPUT_CORRUPT"


def test_thirty_clips_run_in_batches_not_thirty_runs(tmp_path, dagster_instance):
    media = tmp_path / "many"
    for i in range(30):
        make_clip(
            media / f"c{i:02d}.mp4", ClipSpec(duration_s=0.2, width=64, height=48, audio=False)
        )
    results, _, _ = run(dagster_instance, [media], tmp_path / "store", batch_size=8)
    assert all(r.status == "success" for r in results) and len(results) == 30
    runs = dagster_instance.get_runs()
    assert len(runs) == 4 and all(r.status == DagsterRunStatus.SUCCESS for r in runs)
    assert sorted(
        len({r.partition_key for r in results if r.run_id == run.run_id}) for run in runs
    ) == [6, 8, 8, 8]


def test_a_forced_rerun_writes_new_keys_and_keeps_the_old_ones(tmp_path, dagster_instance):
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=0.5, audio=False))
    first, storage, _ = run(dagster_instance, [clip], tmp_path / "store")
    old_manifest = storage.get_bytes(first[0].manifest_key)
    second, _, _ = run(dagster_instance, [clip], tmp_path / "store", force=True)
    assert first[0].run_id != second[0].run_id and second[0].reused == 0
    assert storage.get_bytes(first[0].manifest_key) == old_manifest
    assert storage.exists(second[0].manifest_key)


def test_batches_follow_registration_order():
    registered = ["a", "b", "c", "d", "e"]
    assert plan_batches(["a", "b", "c", "d", "e"], registered, 2) == [["a", "b"], ["c", "d"], ["e"]]
    # a re-run of a, c: a range a..c would include b, so they run apart
    assert plan_batches(["c", "a"], registered, 8) == [["a"], ["c"]]


def test_artifacts_load_without_pickle(tmp_path, dagster_instance):
    clip = make_clip(tmp_path / "p.mp4", ClipSpec(duration_s=0.5))
    results, storage, _ = run(dagster_instance, [clip], tmp_path / "store")
    manifest = Manifest.model_validate_json(storage.get_bytes(results[0].manifest_key))
    path = tmp_path / "store" / manifest.component("segmenter").artifact_key
    with np.load(path, allow_pickle=False) as npz:
        assert "meta" in npz.files and npz["analysis_times_s"].dtype == np.float64
    assert isinstance(storage, LocalStorage)
