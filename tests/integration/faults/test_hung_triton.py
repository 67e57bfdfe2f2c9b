"""A hung Triton server (SIGSTOP mid-run: connections are accepted, nothing answers) ends a
whole `dp process` with MODEL_TIMEOUT within a minute: the first request waits out its
deadline, then no model of the process asks that server again for 30 s, so retries, other
videos and steps fail at once (issue 15). Nothing is left half-written."""

import os
import re
import signal
import threading
import time
import urllib.request

import pytest
import yaml
from dagster import AssetKey, DagsterRunStatus

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_assets.factory import MARK_FAILED_TAG
from dp_assets.partitions import videos_partitions
from dp_cli.process import process_videos
from dp_core.errors import ErrorCode
from dp_core.manifest import Manifest
from dp_resources.models import triton_runtime
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.run_objects import assert_run_objects_decode
from tests.fixtures.triton_server import start_triton_server
from tests.fixtures.triton_stand_ins import stand_in_repository

pytestmark = pytest.mark.integration

TIMEOUT_S = 10  # DP_TRITON_TIMEOUT_S: one request's deadline
BOUND_S = 60.0
PROFILE = {
    "name": "hung_triton",
    "analysis": {"fps": 2.0, "width": 160, "height": 160},
    "components": {
        "segmenter": {"required": True},
        # one frame per request: the server is stopped between requests, after the first
        "core_clip": {
            "required": True,
            "runtime": "triton",
            "device": "cpu",
            "retries": 2,
            "batch_size": 1,
            "frame_budget": {"fps": 2.0, "max_frames": 600},
        },
    },
}


@pytest.fixture
def triton(tmp_path):
    repository = stand_in_repository(tmp_path / "models", tmp_path / "repository", ("clip",))
    (tmp_path / "logs").mkdir()
    server = start_triton_server(repository, tmp_path / "logs")
    triton_runtime._silent_until.clear()
    try:
        yield server, tmp_path / "models"
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()
        triton_runtime._silent_until.clear()


def inferences(server, model: str) -> int:
    """Successful inference requests of `model`, from the server's Prometheus metrics."""
    try:
        with urllib.request.urlopen(f"http://{server.metrics_url}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return 0
    pattern = rf'^nv_inference_request_success{{model="{model}",version="[^"]*"}} (\d+)'
    return sum(int(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))


@pytest.mark.allow_error_logs  # the failed step and run are logged at ERROR
def test_hung_mid_run_ends_dp_process_within_a_minute(
    tmp_path, dagster_instance, triton, monkeypatch
):
    server, models = triton
    monkeypatch.setenv("DP_TRITON_URL", server.grpc_url)
    monkeypatch.setenv("DP_MODEL_DIR", str(models))
    monkeypatch.setenv("DP_TRITON_TIMEOUT_S", str(TIMEOUT_S))
    profile = tmp_path / "hung_triton.yaml"
    profile.write_text(yaml.safe_dump(PROFILE))
    clip = make_clip(tmp_path / "in" / "v.mp4", ClipSpec(duration_s=20.0, width=160, height=120))
    stopped_at: list[float] = []

    def stop_after_the_first_inference():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if inferences(server, "clip_image") >= 1:
                os.kill(server.proc.pid, signal.SIGSTOP)
                stopped_at.append(time.monotonic())
                return
            time.sleep(0.02)

    stopper = threading.Thread(target=stop_after_the_first_inference, daemon=True)
    stopper.start()
    lines: list[str] = []
    [result], storage = process_videos(
        dagster_instance,
        [str(clip)],
        Settings.of(str(tmp_path / "store"), str(profile)),
        load_profile(str(profile)),
        None,
        lines.append,
    )
    ended = time.monotonic()
    stopper.join()

    assert stopped_at, lines
    assert ended - stopped_at[0] < BOUND_S, (ended - stopped_at[0], lines)
    assert result.status == "error" and result.error_code == ErrorCode.MODEL_TIMEOUT.value
    assert server.grpc_url in result.message and "core_clip" in result.message, result.message
    # the progress line of the video names the component, the video and the code
    assert any(
        "core_clip" in line and result.partition_key in line and "[MODEL_TIMEOUT]" in line
        for line in lines
    ), lines
    # the batch run (a follow-up run marks its failed video failed: dp_assets/failure_marks.py)
    [dagster_run] = [r for r in dagster_instance.get_runs() if MARK_FAILED_TAG not in r.tags]
    assert dagster_run.status == DagsterRunStatus.FAILURE
    # the component that wrote its error artifact shows Failed in Dagster, not Materialized
    shown = dagster_instance.get_status_by_partition(
        AssetKey("core_clip"), [result.partition_key], videos_partitions
    )
    assert shown[result.partition_key].value == "FAILED"
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    assert manifest.component("core_clip").status == "error"
    assert manifest.component("core_clip").error_code is ErrorCode.MODEL_TIMEOUT
    assert_run_objects_decode(storage, dagster_run.run_id)  # nothing half-written
