"""A hung Celery broker (Redis SIGSTOPped mid-run: connections are accepted, nothing
answers) ends a whole `dp process` with DEPENDENCY_ERROR within a minute, naming the
broker; the run ends FAILURE, nothing is left half-written (issue 15)."""

import os
import signal
import threading
import time

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.home import EMBEDDED_DAGSTER_YAML
from dp_cli.process import process_videos
from dp_core.errors import ErrorCode
from dp_core.manifest import Manifest
from tests.fixtures.celery_workers import start_worker, wait_ready
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.redis_server import start_redis
from tests.fixtures.run_objects import assert_run_objects_decode

pytestmark = pytest.mark.integration

BOUND_S = 60.0
PROFILE = {
    "name": "hung_redis",
    "analysis": {"fps": 2.0, "width": 160, "height": 160},
    "components": {"segmenter": {"required": True}, "loudness_extractor": {"required": True}},
}


@pytest.fixture
def broker_and_worker(tmp_path, monkeypatch):
    """A Redis of this test only (it gets stopped) and one cpu worker on it."""
    redis = start_redis(tmp_path / "redis")
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(PROFILE))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes(EMBEDDED_DAGSTER_YAML.read_bytes())
    env = {
        "DAGSTER_HOME": str(home),
        "DP_STORAGE": str(tmp_path / "store"),
        "DP_PROFILE": str(profile),
        "DP_EXECUTOR": "celery",
        "DP_CELERY_BROKER_URL": redis.url(0),
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "logs").mkdir()
    worker = start_worker("cpu", dict(os.environ), tmp_path / "logs")
    try:
        wait_ready(worker)
        with DagsterInstance.from_config(str(home)) as instance:
            yield instance, redis, env
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
        worker.stop()
        redis.stop()


@pytest.mark.allow_error_logs  # the failed step and run are logged at ERROR
def test_hung_mid_run_ends_dp_process_within_a_minute(tmp_path, broker_and_worker):
    instance, redis, env = broker_and_worker
    clip = make_clip(tmp_path / "in" / "v.mp4", ClipSpec(duration_s=20.0, texture=True))
    stopped_at: list[float] = []

    def stop_when_the_segmenter_starts():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for run in instance.get_runs():
                records = instance.get_records_for_run(
                    run.run_id, of_type=DagsterEventType.STEP_START
                ).records
                if records:
                    os.kill(redis.proc.pid, signal.SIGSTOP)
                    stopped_at.append(time.monotonic())
                    return
            time.sleep(0.05)

    stopper = threading.Thread(target=stop_when_the_segmenter_starts, daemon=True)
    stopper.start()
    lines: list[str] = []
    [result], storage = process_videos(
        instance,
        [str(clip)],
        Settings.of(env["DP_STORAGE"], env["DP_PROFILE"]),
        load_profile(env["DP_PROFILE"]),
        None,
        lines.append,
    )
    ended = time.monotonic()
    stopper.join()

    assert stopped_at, lines
    assert ended - stopped_at[0] < BOUND_S, (ended - stopped_at[0], lines)
    assert result.status == "error"
    assert result.error_code == ErrorCode.DEPENDENCY_ERROR.value, (result, lines)
    [dagster_run] = instance.get_runs()
    assert dagster_run.status == DagsterRunStatus.FAILURE
    [failure] = [
        r.event_log_entry.dagster_event
        for r in instance.get_records_for_run(
            dagster_run.run_id, of_type=DagsterEventType.STEP_FAILURE
        ).records
    ]
    assert failure.step_key == "segmenter"
    assert f"Celery broker at 127.0.0.1:{redis.port}" in failure.message, failure.message
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    assert manifest.run.dagster_run_status == "FAILURE"
    # the worker may still finish the segmenter (it needs no broker to write): either way
    # no further step started
    assert manifest.component("segmenter").status in ("success", "error")
    loudness = manifest.component("loudness_extractor")
    assert loudness.status == "skipped" and loudness.error_code is ErrorCode.DEPENDENCY_ERROR
    broker = f"[DEPENDENCY_ERROR] the Celery broker at 127.0.0.1:{redis.port} did not answer"
    assert any(f"✗ segmenter failed: {broker}" in line for line in lines), lines
    assert_run_objects_decode(storage, dagster_run.run_id)  # nothing half-written
