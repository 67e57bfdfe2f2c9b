"""`dp process` with S3 storage on a real S3-compatible server (SeaweedFS on loopback):
artifacts, frames, manifests and state land in the bucket, and a second client that knows
only the bucket address reads them back."""

import json

import pytest

from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
from dp_core.state_journal import decode_events
from dp_resources.storage.s3 import S3Storage
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_cli import dp

pytestmark = pytest.mark.integration


def test_process_into_a_bucket(tmp_path, s3_server):
    bucket = s3_server.make_bucket("dp")
    make_clip(tmp_path / "cloud.mp4", ClipSpec(duration_s=1.0))
    env = {
        "DP_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "DP_S3_ACCESS_KEY": s3_server.access_key,
        "DP_S3_SECRET_KEY": s3_server.secret_key,
    }
    base = f"s3://{bucket}/features"
    done = dp(tmp_path, "process", "cloud.mp4", "--storage", base, "--json", env=env, check_rc=0)
    document = json.loads(done.stdout)
    assert document["storage_base"] == base
    [video] = document["videos"]
    assert not (tmp_path / ".dp" / "storage").exists()  # nothing went to the local folder

    reader = S3Storage.from_url(
        base, s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key
    )
    manifest = Manifest.model_validate_json(reader.get_bytes(video["manifest_key"]))
    assert manifest.run.storage["kind"] == "s3" and manifest.run.storage["bucket"] == bucket
    assert s3_server.secret_key not in json.dumps(manifest.run.storage)
    artifact = decode_artifact(reader.get_bytes(manifest.component("segmenter").artifact_key))
    frames_prefix = artifact.meta.model_extra["frames_prefix"]
    metadata = json.loads(reader.get_bytes(f"{frames_prefix}/metadata.json"))
    assert metadata["has_audio"] and metadata["frame_counts"]["dense"] == 25
    assert reader.exists(f"{frames_prefix}/analysis/00000.npz")
    run = video["run_id"]
    events = decode_events(reader.get_bytes(f"state/local/cloud/{run}/state_events.jsonl"))
    assert [e.state for e in events if e.component == "segmenter"][-1] == "success"

    shown = dp(tmp_path, "inspect", video["manifest_key"], "--storage", base, env=env, check_rc=0)
    assert "segmenter" in shown.stdout


def test_unreachable_s3_is_a_storage_error(tmp_path):
    make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=0.3, audio=False))
    env = {
        "DP_S3_ENDPOINT_URL": "http://127.0.0.1:1",
        "DP_S3_ACCESS_KEY": "k",
        "DP_S3_SECRET_KEY": "s",
    }
    done = dp(tmp_path, "process", "v.mp4", "--storage", "s3://nowhere/x", "--json", env=env)
    assert done.returncode == 2  # nothing can be written: refused before any run starts
    assert json.loads(done.stdout)["error_code"] == "STORAGE_ERROR"
    assert "127.0.0.1:1" in done.stderr
