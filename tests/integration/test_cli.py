"""`dp` as a user runs it: a subprocess in a fresh folder, the embedded default under .dp/."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
from tests.fixtures.dagster_ui import running_ui
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

    narrow = {"COLUMNS": "80"}  # keys are never folded, whatever the terminal's width
    shown = dp(tmp_path, "inspect", video["manifest_key"], env=narrow, check_rc=0).stdout
    assert "segmenter" in shown and video["run_id"] in shown
    artifact_key = manifest.component("segmenter").artifact_key
    # its row is wider than the terminal and holds the key whole
    assert any(artifact_key in line and len(line) > 80 for line in shown.splitlines())
    shown = dp(tmp_path, "inspect", artifact_key, check_rc=0).stdout
    assert "analysis_times_s" in shown and "config_hash" in shown and "float64" in shown
    assert dp(tmp_path, "inspect", "result_store/nothing/here").returncode == 1
    # --json: one document; --array: the values themselves
    stored = decode_artifact((base / artifact_key).read_bytes()).arrays
    document = json.loads(
        dp(tmp_path, "inspect", artifact_key, "--json", "--array", "analysis_times_s").stdout
    )
    assert document["meta"]["component"] == "segmenter"
    times = document["arrays"]["analysis_times_s"]
    assert times["values"] == stored["analysis_times_s"].tolist()
    assert "values" not in document["arrays"]["dense_times_s"]
    assert document["arrays"]["dense_times_s"]["shape"] == list(stored["dense_times_s"].shape)
    shown = dp(tmp_path, "inspect", artifact_key, "--array", "analysis_times_s", env=narrow)
    values = [float(v) for v in shown.stdout.split("[", 1)[1].split("]", 1)[0].split(",")]
    assert values == stored["analysis_times_s"].tolist()
    assert "no array nope" in dp(tmp_path, "inspect", artifact_key, "--array", "nope").stderr

    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 100)
    done = dp(tmp_path, "process", str(good), "broken.mp4", "missing.mp4", check_rc=1)
    assert "INPUT_CORRUPT" in done.stdout and "INPUT_NOT_FOUND" in done.stdout
    assert "success" in done.stdout
    # stderr: one line per failed video and where the details are; Dagster's lines in the log
    log = tmp_path / ".dp" / "dagster_home" / "logs" / "dagster.log"
    assert done.stderr.splitlines() == [
        "failed: local/broken [INPUT_CORRUPT] segmenter: broken.mp4: not a readable media file"
        + done.stderr.split("not a readable media file", 1)[1].split("\n", 1)[0],
        "failed: missing.mp4 [INPUT_NOT_FOUND] missing.mp4: file not found",
        f"details: {log}",
    ]
    assert "dagster - WARNING" in log.read_text() and "local__broken" in log.read_text()


def test_version_and_short_help():
    done = subprocess.run([DP, "--version"], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"dp \(dataprocessor\) \d+\.\d+\.\d+\S*\n", done.stdout)
    done = subprocess.run([DP, "-h"], capture_output=True, text=True, check=True)
    assert "Usage: dp" in done.stdout and "export" in done.stdout and "--version" in done.stdout
    done = subprocess.run([DP, "export", "-h"], capture_output=True, text=True, check=True)
    assert "--format [csv|json|edl]" in done.stdout


def test_an_empty_folder_and_missing_s3_credentials_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a video")
    done = dp(tmp_path, "process", "empty", check_rc=2)
    assert done.stderr.startswith("error: [INPUT_NOT_FOUND] no video file in empty")
    assert ".mp4" in done.stderr and not (tmp_path / ".dp").exists()  # nothing started
    no_aws = {  # nowhere for boto3 to find credentials (an empty variable counts as unset)
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    done = dp(tmp_path, "inspect", "result_store", "--storage", "s3://bucket/p", env=no_aws)
    assert done.returncode == 1 and "CONFIG_INVALID" in done.stderr
    for variable in ("DP_S3_ENDPOINT_URL", "DP_S3_ACCESS_KEY", "DP_S3_SECRET_KEY"):
        assert variable in done.stderr


def test_dp_ui_prints_its_url_first_and_no_warnings(tmp_path):
    with running_ui(tmp_path) as port:
        log = (tmp_path / "ui.log").read_text()  # its stdout and stderr, until it answered
    assert log.startswith(f"Dagster UI: http://127.0.0.1:{port} (Dagster home ")
    # Dagster's 30 BetaWarnings (one per asset) and the `dagster dev` supersession warning
    assert "Warning" not in log and "WARNING" not in log, log[-3000:]


def test_wrong_profile_is_a_clear_error(tmp_path):
    make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=0.3))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncomponents:\n  segmenter:\n    required: maybe\n")
    done = dp(tmp_path, "process", "v.mp4", "--profile", str(bad), "--json", check_rc=2)
    assert json.loads(done.stdout)["error_code"] == "CONFIG_INVALID"
    assert "components.segmenter.required" in done.stderr


def test_doctor_reports_each_check(tmp_path):
    done = dp(tmp_path, "doctor", "--json", check_rc=0)
    # MediaPipe's TF Lite / absl lines go to the log file, not the terminal
    assert done.stderr == ""
    assert "XNNPACK" in (tmp_path / ".dp" / "dagster_home" / "logs" / "native.log").read_text()
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
    # one digest per model: each the doctor names is the one `dp models list` shows
    digests = re.findall(r"sha256:\w{12}", checks["models"]["detail"])
    listed = dp(tmp_path, "models", "list", check_rc=0).stdout
    assert len(digests) >= 3 and all(d in listed for d in digests), (digests, listed)
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
