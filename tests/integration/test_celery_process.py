"""`dp process` with DP_EXECUTOR=celery: the steps run in real Celery workers (`cpu` and
`gpu` queues, real Redis), not in the dp process; a worker process killed mid-step ends its
step and the run (FAILURE) within seconds, with nothing half-written (issue 15)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import yaml
from dagster import DagsterEventType, DagsterRunStatus

from dp_assets.components import catalog, load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.errors import ErrorCode
from dp_core.manifest import Manifest
from tests.fixtures.celery_workers import start_worker, wait_ready
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.run_objects import assert_run_objects_decode

pytestmark = pytest.mark.integration

# Two CPU components and one model component (-> gpu queue): both queues take work.
PROFILE = {
    "name": "celery_process_test",
    "analysis": {"fps": 2.0, "width": 160, "height": 160},
    "components": {
        "segmenter": {"required": True},
        "loudness_extractor": {"required": True},
        "speech_activity": {"required": False},
    },
}
LOST_WORKER_BOUND_S = 30.0  # from the kill to `dp process` returning, on a busy machine
# 3 missed pings 10 s apart (dp_assets/execution.py) + margin for a busy machine
WHOLE_WORKER_LOST_BOUND_S = 60.0


@pytest.fixture(scope="module")
def celery_env(tmp_path_factory, redis_server):
    root = tmp_path_factory.mktemp("celery_process")
    profile = root / "profile.yaml"
    profile.write_text(yaml.safe_dump(PROFILE))
    home = root / "dagster_home"
    home.mkdir()
    from dp_cli.home import EMBEDDED_DAGSTER_YAML

    (home / "dagster.yaml").write_bytes(EMBEDDED_DAGSTER_YAML.read_bytes())
    env = {
        "DAGSTER_HOME": str(home),
        "DP_STORAGE": str(root / "store"),
        "DP_PROFILE": str(profile),
        "DP_EXECUTOR": "celery",
        "DP_CELERY_BROKER_URL": redis_server.url(3),
        "DP_CELERY_BACKEND_URL": redis_server.url(4),
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    logs = root / "logs"
    logs.mkdir()
    workers = [
        start_worker("cpu", {**os.environ, **env}, logs, concurrency=1),
        start_worker("gpu", {**os.environ, **env}, logs, concurrency=1),
    ]
    try:
        for worker in workers:
            wait_ready(worker)
        yield env, root, {w.queue: w for w in workers}
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def celery_instance(celery_env, monkeypatch):
    from dagster import DagsterInstance

    env, _, _ = celery_env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        yield instance


def run(instance, env, clip, lines):
    return process_videos(
        instance,
        [str(clip)],
        Settings.of(env["DP_STORAGE"], env["DP_PROFILE"]),
        load_profile(env["DP_PROFILE"]),
        None,
        lines.append,
    )


def step_records(instance, run_id, event_type):
    return [
        r.event_log_entry.dagster_event
        for r in instance.get_records_for_run(run_id, of_type=event_type).records
    ]


def test_dp_process_runs_every_step_in_the_workers(celery_env, celery_instance):
    env, root, workers = celery_env
    clip = make_clip(root / "in" / "clip.mp4", ClipSpec(duration_s=2.0, width=160, height=120))
    lines: list[str] = []
    [result], storage = run(celery_instance, env, clip, lines)

    assert result.status == "success", (result, lines, [w.log_tail() for w in workers.values()])
    run_id = result.run_id
    events = step_records(celery_instance, run_id, DagsterEventType.ENGINE_EVENT)
    assert not any("in process" in e.message for e in events)
    hosts = {
        e.step_key: e.engine_event_data.metadata["Celery worker"].value
        for e in events
        if "Celery worker" in (e.engine_event_data.metadata or {})
    }
    assert hosts == {name: f"{catalog()[name].queue}@dp-test" for name in PROFILE["components"]}
    assert hosts["speech_activity"] == "gpu@dp-test"
    # every step ran in a pool process of the worker of its queue, never in this process
    for start in step_records(celery_instance, run_id, DagsterEventType.STEP_START):
        queue = catalog()[start.step_key].queue
        assert start.pid in workers[queue].pool_pids(), (start.step_key, start.pid)
        assert start.pid != os.getpid()
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    assert manifest.run.dagster_run_status == "SUCCESS"
    assert {c.name: c.status for c in manifest.components if c.name in PROFILE["components"]} == {
        "segmenter": "success",
        "loudness_extractor": "success",
        "speech_activity": result_status(manifest, "speech_activity"),
    }


def result_status(manifest, name):
    status = manifest.component(name).status
    assert status in ("success", "empty")  # a synthetic tone has no speech: empty is valid
    return status


@pytest.mark.allow_error_logs  # the lost step and the run failure are logged at ERROR
def test_a_worker_process_killed_mid_step_ends_the_run_in_seconds(celery_env, celery_instance):
    env, root, workers = celery_env
    clip = make_clip(root / "in" / "long.mp4", ClipSpec(duration_s=40.0, texture=True))
    killed: list[tuple[int, float]] = []

    def kill_the_segmenter():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for run in celery_instance.get_runs():
                for start in step_records(celery_instance, run.run_id, DagsterEventType.STEP_START):
                    if start.step_key == "segmenter" and run.status == DagsterRunStatus.STARTED:
                        in_cpu_worker = start.pid in workers["cpu"].pool_pids()
                        os.kill(start.pid, signal.SIGKILL)
                        killed.append((in_cpu_worker, time.monotonic()))
                        return
            time.sleep(0.1)

    before = {r.run_id for r in celery_instance.get_runs()}
    killer = threading.Thread(target=kill_the_segmenter, daemon=True)
    killer.start()
    lines: list[str] = []
    [result], storage = run(celery_instance, env, clip, lines)
    ended = time.monotonic()
    killer.join()

    assert killed, lines
    in_cpu_worker, killed_at = killed[0]
    assert in_cpu_worker  # the segmenter ran in a pool process of the cpu worker
    assert ended - killed_at < LOST_WORKER_BOUND_S, ended - killed_at
    [dagster_run] = [r for r in celery_instance.get_runs() if r.run_id not in before]
    assert dagster_run.status == DagsterRunStatus.FAILURE
    [failure] = step_records(celery_instance, dagster_run.run_id, DagsterEventType.STEP_FAILURE)
    assert failure.step_key == "segmenter"
    assert "WorkerLostError" in failure.event_specific_data.error.to_string()
    metadata = failure.event_specific_data.user_failure_data.metadata
    assert metadata["error_code"].value == ErrorCode.RESOURCE_EXHAUSTED.value
    started = {
        e.step_key
        for e in step_records(celery_instance, dagster_run.run_id, DagsterEventType.STEP_START)
    }
    assert started == {"segmenter"}  # a required step lost: nothing else starts
    assert result.status == "error" and result.run_id == dagster_run.run_id
    # nothing half-written; at least the manifest and the state journal
    assert assert_run_objects_decode(storage, dagster_run.run_id)
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    assert manifest.run.dagster_run_status == "FAILURE"
    assert manifest.component("segmenter").status == "error"
    assert manifest.component("segmenter").error_code is ErrorCode.RESOURCE_EXHAUSTED
    # the worker replaced its pool process and still answers
    code, body = workers["cpu"].health()
    assert code == 200, body


@pytest.mark.allow_error_logs  # the lost step and the run failure are logged at ERROR
def test_a_whole_worker_killed_mid_step_ends_the_run_within_a_minute(celery_env, celery_instance):
    """The worker's main process dies too (container OOM-killed, host lost): nobody tells
    Celery; the run process notices the worker no longer answers pings. Runs last in this
    module: it kills the module's cpu worker."""
    env, root, workers = celery_env
    clip = make_clip(root / "in" / "long2.mp4", ClipSpec(duration_s=40.0, texture=True))
    killed: list[float] = []

    def kill_the_cpu_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for run in celery_instance.get_runs():
                for start in step_records(celery_instance, run.run_id, DagsterEventType.STEP_START):
                    if start.step_key == "segmenter" and run.status == DagsterRunStatus.STARTED:
                        # the worker was started in its own session: its group is it + its pool
                        os.killpg(workers["cpu"].proc.pid, signal.SIGKILL)
                        killed.append(time.monotonic())
                        return
            time.sleep(0.1)

    before = {r.run_id for r in celery_instance.get_runs()}
    killer = threading.Thread(target=kill_the_cpu_worker, daemon=True)
    killer.start()
    [result], storage = run(celery_instance, env, clip, [])
    ended = time.monotonic()
    killer.join()

    assert killed
    assert ended - killed[0] < WHOLE_WORKER_LOST_BOUND_S, ended - killed[0]
    [dagster_run] = [r for r in celery_instance.get_runs() if r.run_id not in before]
    assert dagster_run.status == DagsterRunStatus.FAILURE
    [failure] = step_records(celery_instance, dagster_run.run_id, DagsterEventType.STEP_FAILURE)
    assert failure.step_key == "segmenter"
    error = failure.event_specific_data.error.to_string()
    assert "cpu@dp-test" in error and "stopped answering" in error, error
    assert result.status == "error"
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    assert manifest.run.dagster_run_status == "FAILURE"
