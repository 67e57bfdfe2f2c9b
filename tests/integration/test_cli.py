"""`dp` as a user runs it: a subprocess in a fresh folder, the embedded default under .dp/."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dp_core.manifest import Manifest
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
DP = str(Path(sys.executable).with_name("dp"))


def dp(cwd, *args, env=None, check_rc=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DP_"))}
    environment.update(env or {})
    done = subprocess.run(
        [DP, *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=300
    )
    if check_rc is not None:
        assert done.returncode == check_rc, done.stdout + done.stderr
    return done


def test_process_json_inspect_and_exit_codes(tmp_path):
    good = make_clip(tmp_path / "good.mp4", ClipSpec(duration_s=1.0))
    done = dp(tmp_path, "process", "good.mp4", "--json", check_rc=0)
    document = json.loads(done.stdout)
    assert "segmenter" in done.stderr  # progress goes to stderr when stdout is JSON
    [video] = document["videos"]
    assert (
        video["status"] == "success"
        and video["platform"] == "local"
        and video["video_id"] == "good"
    )
    base = Path(document["storage_base"])
    assert base == tmp_path / ".dp" / "storage" and (tmp_path / ".dp" / "dagster_home").is_dir()
    manifest = Manifest.model_validate_json((base / video["manifest_key"]).read_bytes())
    assert manifest.run.run_id == video["run_id"]

    shown = dp(tmp_path, "inspect", video["manifest_key"], check_rc=0).stdout
    assert "segmenter" in shown and video["run_id"] in shown
    artifact_key = manifest.component("segmenter").artifact_key
    shown = dp(tmp_path, "inspect", artifact_key, check_rc=0).stdout
    assert "analysis_times_s" in shown and "config_hash" in shown and "float64" in shown
    assert dp(tmp_path, "inspect", "result_store/nothing/here").returncode == 1

    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 100)
    done = dp(tmp_path, "process", str(good), "broken.mp4", "missing.mp4", check_rc=1)
    assert "INPUT_CORRUPT" in done.stdout and "INPUT_NOT_FOUND" in done.stdout
    assert "success" in done.stdout


def test_wrong_profile_is_a_clear_error(tmp_path):
    make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=0.3))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncomponents:\n  segmenter:\n    required: maybe\n")
    done = dp(tmp_path, "process", "v.mp4", "--profile", str(bad), "--json", check_rc=2)
    assert json.loads(done.stdout)["error_code"] == "CONFIG_INVALID"
    assert "components.segmenter.required" in done.stderr


def test_doctor_reports_each_check(tmp_path):
    done = dp(tmp_path, "doctor", "--json", check_rc=0)
    checks = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
    assert {
        "pyav/ffmpeg",
        "onnxruntime",
        "profile",
        "models",
        "storage",
        "dagster home",
    } <= checks.keys()
    assert "H.264 round trip 2 frames" in checks["pyav/ffmpeg"]["detail"]
    # a configured service that is down is a failed check, named, and exit code 1
    done = dp(tmp_path, "doctor", "--json", env={"DP_REDIS_URL": "redis://127.0.0.1:1"}, check_rc=1)
    failed = [c for c in json.loads(done.stdout)["checks"] if not c["ok"]]
    assert [c["check"] for c in failed] == ["redis"]


def test_doctor_names_a_missing_model(tmp_path):
    # an empty model cache and no way to reach the wheel's file: point the YAMNet cache at a
    # file (not a folder) so the derived graph cannot be written
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    done = dp(tmp_path, "doctor", "--json", env={"DP_MODEL_CACHE": str(blocker)}, check_rc=1)
    [models] = [c for c in json.loads(done.stdout)["checks"] if c["check"] == "models"]
    assert not models["ok"] and models["error_code"] in ("STORAGE_ERROR", "MODEL_NOT_FOUND")


def test_unreachable_redis_broker_is_a_clear_error_before_any_run(tmp_path):
    make_clip(tmp_path / "good.mp4", ClipSpec(duration_s=1.0))
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"DP_EXECUTOR": "celery", "DP_CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0"}
    done = dp(tmp_path, "process", "good.mp4", env=env, check_rc=2)
    assert "DEPENDENCY_ERROR" in done.stderr and "Celery broker is unreachable" in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    assert not (tmp_path / ".dp" / "storage" / "result_store").exists()  # nothing ran
