"""The uploads sensor evaluated for real: PostgreSQL-backed Dagster instance (the production
dagster.yaml), uploads in a SeaweedFS bucket, the cursor carried between ticks as the
daemon stores it (also across a "restart": a new instance and a new sensor object)."""

from __future__ import annotations

import json
import shutil
import socket

import pytest
import yaml
from dagster import (
    AssetKey,
    DagsterInstance,
    build_reconstructable_job,
    build_sensor_context,
    execute_job,
)

from dp_assets.components import load_profile
from dp_assets.definitions import PROCESS_JOB, PROFILE_TAG
from dp_assets.leases import open_leases
from dp_assets.partitions import VIDEOS
from dp_assets.run_records import RANGE_END, RANGE_START, run_partition_keys
from dp_assets.upload_sensor import (
    UploadCursor,
    UploadSensorSettings,
    build_upload_sensor,
    plan_upload_batches,
)
from dp_assets.uploads import load_upload
from dp_core.errors import DpError
from dp_resources.storage.resource import StorageResource
from tests.fixtures.celery_workers import REPO
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.s3_server import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.integration

pytest_plugins = ["tests.fixtures.postgres_server"]

SETTINGS = UploadSensorSettings(prefix="uploads", batch_max_videos=2, batch_wait_s=1.0)


@pytest.fixture
def pg_instance(tmp_path, postgres_server, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.prod.yaml", home / "dagster.yaml")
    for key, value in postgres_server.create_database("sensor").env().items():
        monkeypatch.setenv(key, value)
    with DagsterInstance.from_config(str(home)) as instance:
        yield home, instance


def tick(instance, storage, cursor, settings=SETTINGS, preflight=None, profile=None):
    """One evaluation as the daemon does it; apply its partitions and events; new cursor."""
    sensor = build_upload_sensor(
        PROCESS_JOB, {PROFILE_TAG: "cpu_baseline"}, settings, preflight=preflight, profile=profile
    )
    resource = StorageResource(
        base=storage.base,
        s3_endpoint_url=storage.endpoint_url,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
    )
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"storage": resource}
    )
    result = sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    for event in result.asset_events or []:
        instance.report_runless_asset_event(event)
    return result, result.cursor


def test_uploads_become_partitions_and_batched_runs(pg_instance, s3_storage):
    home, instance = pg_instance
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        s3_storage.put_bytes(f"uploads/{name}", b"video bytes " + name.encode())
    s3_storage.put_bytes(
        "uploads/b.json", json.dumps({"platform": "tiktok", "video_id": "B1"}).encode()
    )
    s3_storage.put_bytes("uploads/notes.txt", b"not a video")

    # a wait window no busy machine can overrun between two ticks; passing it is simulated
    # by ageing the cursor (a wall-clock race made this test flaky under load)
    patient = UploadSensorSettings(prefix="uploads", batch_max_videos=2, batch_wait_s=600.0)
    result, cursor = tick(instance, s3_storage, None, patient)

    (run,) = result.run_requests  # two videos at once; the third waits for company
    assert instance.get_dynamic_partitions(VIDEOS) == ["local__a", "tiktok__B1"]
    assert run_partition_keys(instance, run.tags) == ["local__a", "tiktok__B1"]
    assert run.tags[PROFILE_TAG] == "cpu_baseline" and run.job_name == PROCESS_JOB
    upload = load_upload(instance, "tiktok__B1")
    assert upload.source_uri == f"{s3_storage.base}/uploads/b.mp4"
    assert upload.sidecar["video_id"] == "B1" and upload.size_bytes == len(b"video bytes b.mp4")
    assert UploadCursor.decode(cursor).pending == ["uploads/c.mp4"]

    # A "daemon restart": new instance object, new sensor, the stored cursor.
    with DagsterInstance.from_config(str(home)) as restarted:
        result, cursor = tick(restarted, s3_storage, cursor, patient)
        assert result.run_requests == []  # c.mp4 still inside its wait window
        aged = UploadCursor.decode(cursor)
        aged.pending_since -= patient.batch_wait_s + 1.0
        result, cursor = tick(restarted, s3_storage, aged.encode(), patient)
    (run,) = result.run_requests
    assert run_partition_keys(instance, run.tags) == ["local__c"]
    assert (run.tags[RANGE_START], run.tags[RANGE_END]) == ("local__c", "local__c")

    result, cursor = tick(
        instance, s3_storage, cursor, patient
    )  # nothing new: nothing registered twice
    assert result.run_requests == []
    assert instance.get_dynamic_partitions(VIDEOS) == ["local__a", "tiktok__B1", "local__c"]

    s3_storage.put_bytes("uploads/late/d.mp4", b"d")  # one more arrives later
    s3_storage.put_bytes("uploads/0-early-name.mp4", b"e")  # sorts before every other key
    s3_storage.delete("uploads/a.mp4")  # processed uploads may be expired by a lifecycle rule
    result, cursor = tick(instance, s3_storage, cursor, patient)
    (run,) = result.run_requests  # both found, though one sorts before every older key
    assert run_partition_keys(instance, run.tags) == ["local__0-early-name", "local__d"]
    result, cursor = tick(instance, s3_storage, cursor, patient)
    assert result.run_requests == [] and UploadCursor.decode(cursor).pending == []
    # the cursor holds no record of past uploads: those are rows in the instance
    assert set(json.loads(cursor)) == {"v", "listed_after", "pending", "pending_since", "launched"}


def test_a_tick_does_bounded_work_and_the_sweep_goes_on(pg_instance, s3_storage):
    """Paging: 2 keys listed and 1 run per tick; every upload is launched exactly once."""
    _, instance = pg_instance
    settings = UploadSensorSettings(
        prefix="uploads", batch_max_videos=2, batch_wait_s=0.0, max_runs_per_tick=1, list_per_tick=2
    )
    names = [f"uploads/{i}.mp4" for i in range(5)]
    for name in names:
        s3_storage.put_bytes(name, name.encode())
    cursor, launched = None, []
    for _ in range(6):
        result, cursor = tick(instance, s3_storage, cursor, settings)
        assert len(result.run_requests) <= 1
        launched += [run_partition_keys(instance, run.tags) for run in result.run_requests]
    assert launched == [["local__0", "local__1"], ["local__2", "local__3"], ["local__4"]]
    assert instance.get_dynamic_partitions(VIDEOS) == [f"local__{i}" for i in range(5)]


def test_a_large_backlog_is_launched_in_larger_runs_once_each_across_a_restart(
    pg_instance, s3_storage
):
    """60 uploads, runs of 2 while the backlog is small, up to 10 under it, 3 runs and 40
    keys listed per tick (30 taken: one tick's runs): fewer, larger runs; every upload launched exactly once, in
    contiguous partition ranges, also when the daemon restarts halfway."""
    home, instance = pg_instance
    settings = UploadSensorSettings(
        prefix="uploads",
        batch_max_videos=2,
        batch_max_videos_backlog=10,
        batch_wait_s=0.0,
        max_runs_per_tick=3,
        list_per_tick=40,
    )
    names = [f"uploads/{i % 4}/v{i:03d}.mp4" for i in range(60)]
    for name in names:
        s3_storage.put_bytes(name, name.encode())
    cursor, launched, sizes = None, [], []

    def ticks(on, count):
        nonlocal cursor
        for _ in range(count):
            result, cursor = tick(on, s3_storage, cursor, settings)
            assert len(result.run_requests) <= settings.max_runs_per_tick
            for run in result.run_requests:
                keys = run_partition_keys(on, run.tags)
                launched.extend(keys)
                sizes.append(len(keys))

    ticks(instance, 3)
    with DagsterInstance.from_config(str(home)) as restarted:  # a daemon restart
        ticks(restarted, 6)
    expected = sorted(f"local__v{i:03d}" for i in range(60))
    assert sorted(launched) == expected  # none missed, none twice
    assert sorted(instance.get_dynamic_partitions(VIDEOS)) == expected
    assert sizes == [10] * 6  # not 30 runs of 2
    assert UploadCursor.decode(cursor).pending == []


def test_a_tick_that_never_commits_loses_and_repeats_nothing(pg_instance, s3_storage):
    """The tick registers its videos itself (one bulk insert); if the daemon then dies
    before storing its runs and cursor, the next tick from the old cursor launches those
    uploads once, as videos registered before, and later ticks never again."""
    _, instance = pg_instance
    settings = UploadSensorSettings(prefix="uploads", batch_max_videos=2, batch_wait_s=0.0)
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        s3_storage.put_bytes(f"uploads/{name}", name.encode())
    sensor = build_upload_sensor(PROCESS_JOB, {PROFILE_TAG: "cpu_baseline"}, settings)
    resource = StorageResource(
        base=s3_storage.base,
        s3_endpoint_url=s3_storage.endpoint_url,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
    )
    lost = sensor(build_sensor_context(instance=instance, resources={"storage": resource}))
    assert len(lost.run_requests) == 2  # requested, then the daemon died: nothing stored
    assert instance.get_dynamic_partitions(VIDEOS) == ["local__a", "local__b", "local__c"]
    launched, cursor = [], None
    for _ in range(3):
        result, cursor = tick(instance, s3_storage, cursor, settings)
        launched += [run_partition_keys(instance, run.tags) for run in result.run_requests]
    assert sorted(launched) == [["local__a"], ["local__b"], ["local__c"]]
    assert instance.get_dynamic_partitions(VIDEOS) == ["local__a", "local__b", "local__c"]
    assert load_upload(instance, "local__b").source_name == "b.mp4"


def test_uploads_wait_while_the_services_the_runs_need_are_down(
    pg_instance, s3_storage, monkeypatch
):
    """The real preflight of the gpu_triton profile against a Triton address nobody listens
    on: the tick launches nothing and names the code; the uploads stay pending and are
    launched by the first tick after the services answer."""
    _, instance = pg_instance
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("DP_TRITON_URL", f"127.0.0.1:{closed}")
    for name in ("a.mp4", "b.mp4"):
        s3_storage.put_bytes(f"uploads/{name}", name.encode())
    # the sensor as build_definitions makes it: the planner's service checks for the profile
    result, cursor = tick(instance, s3_storage, None, profile=load_profile("gpu_triton"))
    assert result.run_requests == [] and "MODEL_UNAVAILABLE" in result.skip_reason.skip_message
    assert UploadCursor.decode(cursor).pending == ["uploads/a.mp4", "uploads/b.mp4"]
    assert instance.get_dynamic_partitions(VIDEOS) == []  # nothing registered either
    result, cursor = tick(instance, s3_storage, cursor)  # the services answer again
    (run,) = result.run_requests
    assert run_partition_keys(instance, run.tags) == ["local__a", "local__b"]


def test_batching_plan_by_count_and_wait():
    # a tick passes only the keys it found new (the sweep and the instance know the rest)
    cursor, batches = plan_upload_batches(
        UploadCursor(), [f"uploads/{i}.mp4" for i in range(5)], now=100.0, settings=SETTINGS
    )
    assert batches == [["uploads/0.mp4", "uploads/1.mp4"], ["uploads/2.mp4", "uploads/3.mp4"]]
    assert cursor.pending == ["uploads/4.mp4"] and cursor.pending_since == 100.0
    assert cursor.launched == [f"uploads/{i}.mp4" for i in range(4)]
    same, batches = plan_upload_batches(cursor, [], now=100.5, settings=SETTINGS)
    assert batches == [] and same.pending_since == 100.0 and same.launched == []
    done, batches = plan_upload_batches(cursor, [], now=101.0, settings=SETTINGS)
    assert batches == [["uploads/4.mp4"]] and done.pending == [] and done.pending_since is None
    assert UploadCursor.decode(done.encode()) == done


def test_at_most_max_runs_per_tick_the_rest_waits():
    settings = UploadSensorSettings(
        batch_max_videos=2, batch_max_videos_backlog=2, batch_wait_s=0.0, max_runs_per_tick=2
    )
    keys = [f"uploads/{i}.mp4" for i in range(7)]
    cursor, batches = plan_upload_batches(UploadCursor(), keys, now=5.0, settings=settings)
    assert batches == [keys[0:2], keys[2:4]] and cursor.pending == keys[4:]
    cursor, batches = plan_upload_batches(cursor, [], now=6.0, settings=settings)
    assert batches == [keys[4:6], keys[6:]] and cursor.pending == []


def test_a_backlog_is_spread_over_the_ticks_runs_in_larger_batches():
    """More waiting than max_runs_per_tick small batches hold: max_runs_per_tick runs of
    ceil(backlog / runs) videos, up to the backlog bound; a small remainder waits as before."""
    settings = UploadSensorSettings(
        batch_max_videos=2, batch_max_videos_backlog=5, batch_wait_s=60.0, max_runs_per_tick=3
    )
    keys = [f"uploads/{i:02d}.mp4" for i in range(20)]
    cursor, batches = plan_upload_batches(UploadCursor(), keys, now=5.0, settings=settings)
    assert batches == [keys[0:5], keys[5:10], keys[10:15]]  # capped at 5 each
    assert cursor.pending == keys[15:] and cursor.launched == keys[:15]
    cursor, batches = plan_upload_batches(cursor, [], now=6.0, settings=settings)
    assert batches == [keys[15:17], keys[17:19]]  # 5 left: ceil(5 / 3) = 2 per run
    assert cursor.pending == keys[19:]  # alone: waits for company or its wait window
    assert settings.batch_size(4) == 2 and settings.batch_size(7) == 3


def test_a_cursor_with_thousands_of_keys_stays_small_and_reads_back():
    keys = [f"uploads/{i % 100:02d}/clip-{i:06d}.mp4" for i in range(5000)]
    cursor = UploadCursor(listed_after=keys[-1], pending=keys[:7], launched=keys)
    text = cursor.encode()
    assert len(text) < len(json.dumps(keys)) / 5  # the launched list is stored compressed
    assert json.loads(text)["pending"] == keys[:7]  # a short list stays readable
    assert UploadCursor.decode(text) == cursor
    old = json.dumps(  # a cursor the previous version stored: still read
        {"v": 2, "listed_after": "", "pending": ["a.mp4"], "pending_since": 1.0, "launched": []}
    )
    assert UploadCursor.decode(old) == UploadCursor("", ["a.mp4"], 1.0, [])


def test_settings_and_cursor_errors_are_actionable():
    settings = UploadSensorSettings.from_env(
        {"DP_UPLOADS_PREFIX": "/in/", "DP_BATCH_MAX_VIDEOS": "3", "DP_BATCH_WAIT_S": "5"}
    )
    assert (settings.prefix, settings.batch_max_videos, settings.batch_wait_s) == ("in", 3, 5.0)
    with pytest.raises(DpError, match="DP_BATCH_MAX_VIDEOS"):
        UploadSensorSettings.from_env({"DP_BATCH_MAX_VIDEOS": "0"})
    with pytest.raises(DpError, match="CONFIG_INVALID"):
        UploadSensorSettings.from_env({"DP_BATCH_WAIT_S": "soon"})
    with pytest.raises(DpError, match="reset it"):
        UploadCursor.decode("{not json")
    backlog = UploadSensorSettings.from_env({"DP_BATCH_MAX_VIDEOS_BACKLOG": "300"})
    assert backlog.batch_max_videos_backlog == 300
    for wrong in ("4", "1001"):  # below DP_BATCH_MAX_VIDEOS (8), above the profile's bound
        with pytest.raises(DpError, match="DP_BATCH_MAX_VIDEOS_BACKLOG"):
            UploadSensorSettings.from_env({"DP_BATCH_MAX_VIDEOS_BACKLOG": wrong})


PLANNED_PROFILE = {
    "name": "sensor_planned",
    "analysis": {"fps": 2.0, "width": 160, "height": 120},
    "components": {"segmenter": {"required": True}, "loudness_extractor": {"required": True}},
}


def execute_request(instance, storage, profile_file, request):
    """Run a requested run as the daemon's run worker would: the job rebuilt from settings."""
    job = build_reconstructable_job(
        "dp_assets.definitions", "process_job", reconstructable_args=(storage.base, profile_file)
    )
    result = execute_job(job, instance, tags=request.tags, asset_selection=request.asset_selection)
    assert result.success
    return result.run_id


def test_a_sensor_run_of_a_processed_video_reuses_it_under_its_lease(
    pg_instance, s3_storage, tmp_path, monkeypatch
):
    """Issue 24: the uploads sensor plans as `dp process` does. The same bytes uploaded
    again for the same video: no run (every component up to date in the storage); while
    another writer holds the video's lease the upload waits; a profile with one more
    component requests a run of that component only."""
    _, instance = pg_instance
    monkeypatch.setenv("DP_EXECUTOR", "in_process")
    monkeypatch.setenv("DP_S3_ENDPOINT_URL", s3_storage.endpoint_url)
    monkeypatch.setenv("DP_S3_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("DP_S3_SECRET_KEY", SECRET_KEY)
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(yaml.safe_dump(PLANNED_PROFILE))
    profile = load_profile(str(profile_file))
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(duration_s=1.0)).read_bytes()
    sidecar = json.dumps({"platform": "tiktok", "video_id": "V1"}).encode()
    settings = UploadSensorSettings(prefix="uploads", batch_max_videos=1, batch_wait_s=0.0)

    def upload(name):
        s3_storage.put_bytes(f"uploads/{name}.mp4", clip)
        s3_storage.put_bytes(f"uploads/{name}.json", sidecar)

    upload("first")
    result, cursor = tick(instance, s3_storage, None, settings, profile=profile)
    (request,) = result.run_requests
    first_run = execute_request(instance, s3_storage, str(profile_file), request)

    upload("second")  # the same bytes again: every component is up to date
    result, cursor = tick(instance, s3_storage, cursor, settings, profile=profile)
    assert result.run_requests == []
    assert load_upload(instance, "tiktok__V1").source_name == "second.mp4"

    upload("third")  # another writer holds the video: the upload waits for a later tick
    with open_leases(instance, s3_storage, ["tiktok__V1"], "a test writer") as lease:
        lease.acquire(lambda _: None)
        result, cursor = tick(instance, s3_storage, cursor, settings, profile=profile)
    assert result.run_requests == []
    assert UploadCursor.decode(cursor).pending == ["uploads/third.mp4"]
    assert load_upload(instance, "tiktok__V1").source_name == "second.mp4"  # not reported
    result, cursor = tick(instance, s3_storage, cursor, settings, profile=profile)
    assert result.run_requests == [] and UploadCursor.decode(cursor).pending == []
    assert load_upload(instance, "tiktok__V1").source_name == "third.mp4"

    # one more component in the profile: its run computes only that one
    bigger = {**PLANNED_PROFILE, "components": {**PLANNED_PROFILE["components"]}}
    bigger["components"]["cut_detection"] = {"params": {"detector": "ours"}}
    bigger_file = tmp_path / "bigger.yaml"
    bigger_file.write_text(yaml.safe_dump(bigger))
    upload("fourth")
    result, cursor = tick(
        instance, s3_storage, cursor, settings, profile=load_profile(str(bigger_file))
    )
    (request,) = result.run_requests
    assert request.asset_selection == [AssetKey("cut_detection")]
    assert run_partition_keys(instance, request.tags) == ["tiktok__V1"]
    second_run = execute_request(instance, s3_storage, str(bigger_file), request)
    assert second_run != first_run
