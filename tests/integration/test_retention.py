"""Event-log retention (issue 25): finished video runs' events are deleted after an age, and
reuse, re-runs of selected components and `dp verify` work as before. Real SQLite Dagster
instance and folder storage, in process."""

from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetRecordsFilter, DagsterEventType

from dp_assets.components import load_profile
from dp_assets.definitions import Settings, build_definitions
from dp_assets.retention import RETENTION_ENV, apply_retention, retention_days
from dp_assets.step_record import StepRecord
from dp_cli.process import process_videos
from dp_core.errors import DpError
from dp_core.manifest import Manifest
from dp_core.storage_keys import manifest_key
from dp_resources.storage.audit import audit_storage
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
COMPONENTS = {"segmenter": {}, "cut_detection": {}, "color_dynamics": {}, "tempo_extractor": {}}


def process(instance, tmp_path, clips, components=COMPONENTS):
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump({"name": "retention", "components": components}))
    results, store = process_videos(
        instance,
        [str(c) for c in clips],
        Settings(storage_base=str(tmp_path / "store"), profile=str(path)),
        load_profile(str(path)),
        None,
        lambda _: None,
    )
    assert all(r.status == "success" for r in results), [r.message for r in results]
    return results, store


def latest_record(instance, component: str, key: str):
    [record] = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(component), asset_partitions=[key]), limit=1
    ).records
    return record, StepRecord.from_metadata(record.asset_materialization.metadata)


@pytest.fixture
def clips(tmp_path):
    return [
        make_clip(tmp_path / f"v{i}.mp4", ClipSpec(duration_s=1.5, texture=True, tone_hz=f))
        for i, f in enumerate((440.0, 660.0))
    ]


def test_retention_deletes_old_runs_and_everything_is_still_reused(
    tmp_path, dagster_instance, clips, monkeypatch
):
    results, store = process(dagster_instance, tmp_path, clips)
    [run_id] = {r.run_id for r in results}
    keys = [r.partition_key for r in results]
    before = {(n, k): latest_record(dagster_instance, n, k)[1] for n in COMPONENTS for k in keys}
    shard = Path(dagster_instance.root_directory) / "history" / "runs" / f"{run_id}.db"
    shard_bytes = shard.stat().st_size

    # younger than the age: kept
    assert apply_retention(dagster_instance, store, max_age_days=1.0).deleted == []
    report = apply_retention(dagster_instance, store, max_age_days=0.0)
    assert report.deleted == [run_id] and report.copies == len(COMPONENTS) * len(keys)
    assert dagster_instance.get_run_record_by_id(run_id) is None
    assert not dagster_instance.get_records_for_run(run_id).records
    # the embedded SQLite home's per-run database shrinks to its empty tables
    print(f"run shard: {shard_bytes} bytes before retention, {shard.stat().st_size} after")
    assert shard.stat().st_size <= 128 * 1024 < shard_bytes
    for (name, key), record in before.items():
        event, kept = latest_record(dagster_instance, name, key)
        assert event.run_id == ""  # a copy without a run, naming the run that made it
        assert kept.made_by_run == run_id and kept.made_at
        assert (kept.artifact_key, kept.sha256, kept.fingerprint, kept.input_sha256) == (
            record.artifact_key,
            record.sha256,
            record.fingerprint,
            record.input_sha256,
        )
    # applied again: nothing left to delete, no second copy
    assert apply_retention(dagster_instance, store, max_age_days=0.0).deleted == []

    # a re-run of one component (its params changed) reads its input through the copy
    changed = {**COMPONENTS, "color_dynamics": {"params": {"levels": 4}}}
    rerun, _ = process(dagster_instance, tmp_path, clips, changed)
    for result in rerun:
        manifest = Manifest.model_validate_json(store.get_bytes(result.manifest_key))
        reused = {c.name: c.reused_from_run for c in manifest.components if c.reused_from_run}
        assert reused == {n: run_id for n in COMPONENTS if n != "color_dynamics"}
    assert audit_storage(store).ok, audit_storage(store).problems

    # after retention of that run too (the daemon's daily job), an unchanged re-run reuses
    # every component
    monkeypatch.setenv(RETENTION_ENV, "0")
    defs = build_definitions(Settings(storage_base=str(tmp_path / "store")))
    retention_run = defs.resolve_job_def("event_log_retention").execute_in_process(
        instance=dagster_instance
    )
    assert retention_run.success
    assert dagster_instance.get_run_record_by_id(rerun[0].run_id) is None
    again, _ = process(dagster_instance, tmp_path, clips, changed)
    assert [r.reused for r in again] == [len(COMPONENTS)] * len(clips)
    report = audit_storage(store)
    assert report.ok and report.manifests == 2 * len(clips), report.problems


def test_a_run_whose_manifests_are_not_written_is_kept(tmp_path, dagster_instance, clips):
    results, store = process(dagster_instance, tmp_path, clips)
    store.delete(manifest_key(results[0].partition_key, results[0].run_id))
    report = apply_retention(dagster_instance, store, max_age_days=0.0)
    assert report.deleted == [] and report.kept_unwritten == [results[0].run_id]
    materialized = dagster_instance.get_records_for_run(
        results[0].run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    assert len(materialized) == len(COMPONENTS) * len(clips)


def test_the_age_is_configured_in_days():
    assert retention_days({}) is None and retention_days({RETENTION_ENV: " "}) is None
    assert retention_days({RETENTION_ENV: "30"}) == 30.0
    assert retention_days({RETENTION_ENV: "0.5"}) == 0.5
    for bad in ("-1", "soon", "nan"):
        with pytest.raises(DpError, match=RETENTION_ENV):
            retention_days({RETENTION_ENV: bad})
