"""A hung S3 server (SIGSTOP: connections are accepted, nothing answers) ends a whole
`dp process` with STORAGE_ERROR within a minute, naming the bucket and the call, before the
run when it hangs first, and mid-run when it hangs while steps write (issue 15)."""

import os
import signal
import threading
import time

import pytest
from dagster import DagsterEventType, DagsterRunStatus

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.process import _video_folder, process_videos
from dp_core.errors import DpError, ErrorCode
from dp_resources.storage import s3
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.s3_server import _start, _wait_ready, _weed_binary

pytestmark = pytest.mark.integration
PROFILE = "cpu_baseline"


@pytest.fixture
def private_s3(tmp_path, monkeypatch):
    """A SeaweedFS of this test only (it gets stopped), with the DP_S3_* environment set."""
    (tmp_path / "weed").mkdir()
    for attempt in range(3):
        weed = _start(_weed_binary(), tmp_path / "weed", attempt)
        if _wait_ready(weed) is None:
            break
        weed.stop()
    else:
        pytest.fail("SeaweedFS did not start")
    server = weed.server
    monkeypatch.setenv("DP_S3_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("DP_S3_ACCESS_KEY", server.access_key)
    monkeypatch.setenv("DP_S3_SECRET_KEY", server.secret_key)
    s3._silent_until.clear()
    try:
        yield weed, f"s3://{server.make_bucket('hung')}/features"
    finally:
        os.kill(weed.proc.pid, signal.SIGCONT)
        weed.stop()
        s3._silent_until.clear()


def run(instance, tmp_path, base, videos=1):
    clips = [
        make_clip(tmp_path / f"v{i}.mp4", ClipSpec(duration_s=3.0, texture=True))
        for i in range(videos)
    ]
    return process_videos(
        instance,
        [str(clip) for clip in clips],
        Settings(storage_base=base, profile=PROFILE),
        load_profile(PROFILE),
        None,
        lambda _: None,
    )


def test_hung_before_the_run_is_refused_in_seconds(tmp_path, dagster_instance, private_s3):
    weed, base = private_s3
    os.kill(weed.proc.pid, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(DpError) as info:
        run(dagster_instance, tmp_path, base)
    assert time.monotonic() - started < 60
    assert info.value.code is ErrorCode.STORAGE_ERROR and "no answer" in info.value.message
    assert base.split("/")[2] in info.value.message  # names the bucket
    assert dagster_instance.get_runs() == []


def test_hung_mid_run_ends_the_run_within_a_minute(tmp_path, dagster_instance, private_s3):
    weed, base = private_s3
    stopped_at: list[float] = []

    def stop_when_a_step_is_under_way():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            runs = dagster_instance.get_runs()
            if runs and runs[0].status == DagsterRunStatus.STARTED:
                started = dagster_instance.get_records_for_run(
                    runs[0].run_id, of_type=DagsterEventType.STEP_START, limit=1
                ).records
                if started:  # a step is running: it writes to the storage that now hangs
                    os.kill(weed.proc.pid, signal.SIGSTOP)
                    stopped_at.append(time.monotonic())
                    return
            time.sleep(0.1)

    stopper = threading.Thread(target=stop_when_a_step_is_under_way, daemon=True)
    stopper.start()
    results, _ = run(dagster_instance, tmp_path, base, videos=2)
    ended = time.monotonic()
    assert stopped_at, "the run never started"
    assert ended - stopped_at[0] < 60
    keys = [result.partition_key for result in results]
    for result, other in zip(results, reversed(keys), strict=True):
        assert result.status == "error" and result.error_code == ErrorCode.STORAGE_ERROR.value
        # each video's message names its own key, another's only as "failed first on"
        mine = _video_folder(result.partition_key, result.run_id) in result.message
        assert mine or f"failed first on {other}" in result.message, result.message
        assert other not in result.message or not mine, result.message
    [dagster_run] = dagster_instance.get_runs()
    assert dagster_run.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.SUCCESS)
