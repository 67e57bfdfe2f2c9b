"""The `gpu_triton` profile against a real Triton server on loopback (the CPU test double:
pytriton's server with Python-backend models over the stand-ins, same client path).

There is no GPU here, so the end-to-end run uses gpu_triton with every `device` set to cpu
(and the server's models on KIND_CPU); the profile as shipped, asking for cuda, is refused
by the same server with DEPENDENCY_MISSING, and Triton down is MODEL_UNAVAILABLE: the
video stops (every component is required), nothing runs anywhere else."""

import time

import pytest
import yaml

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.errors import DpError, ErrorCode
from dp_core.manifest import Manifest
from dp_core.profile import PROFILES_DIR
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.triton_server import start_triton_server
from tests.fixtures.triton_stand_ins import stand_in_repository

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_triton")
    repository = stand_in_repository(root / "models", root / "repository")
    (root / "logs").mkdir()
    server = start_triton_server(repository, root / "logs")
    yield server, root / "models"
    server.stop()


def gpu_triton_on(tmp_path, device: str, retries: int | None = None):
    data = yaml.safe_load((PROFILES_DIR / "gpu_triton.yaml").read_text())
    for spec in data["components"].values():
        if "device" in spec:
            spec["device"] = device
        if retries is not None:
            spec["retries"] = retries
    path = tmp_path / f"gpu_triton_{device}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def run(instance, tmp_path, profile_path):
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=4.0, width=160, height=120, fps=10))
    [result], storage = process_videos(
        instance,
        [str(clip)],
        Settings(storage_base=str(tmp_path / "store"), profile=profile_path),
        load_profile(profile_path),
        None,
        lambda line: None,
    )
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    return result, manifest, storage


def test_every_component_runs_with_models_on_triton(
    tmp_path, dagster_instance, triton, monkeypatch
):
    server, models = triton
    monkeypatch.setenv("DP_TRITON_URL", server.grpc_url)
    monkeypatch.setenv("DP_MODEL_DIR", str(models))
    profile = gpu_triton_on(tmp_path, "cpu")
    result, manifest, storage = run(dagster_instance, tmp_path, profile)
    problems = {c.name: c.error_message for c in manifest.components if c.status == "error"}
    assert problems == {} and result.status == "success"
    ran = {c.name for c in manifest.components if c.status != "skipped"}
    assert ran == set(load_profile(profile).components)
    for name in ("core_clip", "core_depth_midas", "clap_extractor"):
        record = manifest.component(name)
        artifact = decode_artifact(storage.get_bytes(record.artifact_key))
        used = artifact.meta.models_used
        assert used and all(m.engine.startswith("triton:") and m.stand_in for m in used), name
        assert record.model_signature == artifact.meta.model_signature
    objects = manifest.component("core_object_detections")
    served = decode_artifact(storage.get_bytes(objects.artifact_key)).meta.models_used
    assert [(m.name, m.engine, m.stand_in) for m in served] == [
        ("nanodet-g-coco", "triton:python", False)  # the CPU test double's backend
    ]
    scenes = manifest.component("scene_classification")
    labels = decode_artifact(storage.get_bytes(scenes.artifact_key))
    assert any(
        m.name.endswith("-text") and m.engine.startswith("triton:") for m in labels.meta.models_used
    )


def test_cuda_asked_of_a_cpu_server_is_refused(tmp_path, dagster_instance, triton, monkeypatch):
    server, models = triton
    monkeypatch.setenv("DP_TRITON_URL", server.grpc_url)
    monkeypatch.setenv("DP_MODEL_DIR", str(models))
    # only the Triton components ask for cuda; onnxruntime has no CUDA provider here either
    with open(gpu_triton_on(tmp_path, "cpu")) as file:
        data = yaml.safe_load(file)
    data["components"]["core_clip"]["device"] = "cuda"
    path = tmp_path / "clip_on_cuda.yaml"
    path.write_text(yaml.safe_dump(data))
    result, manifest, _ = run(dagster_instance, tmp_path, str(path))
    clip = manifest.component("core_clip")
    assert clip.status == "error" and clip.error_code.value == "DEPENDENCY_MISSING"
    assert "serves clip_image on cpu" in clip.error_message
    assert result.status == "error"  # required: the video stops


def test_triton_down_stops_the_run_before_it_starts(tmp_path, dagster_instance, monkeypatch):
    """Preflight (issue 15): Triton down is MODEL_UNAVAILABLE naming the server, within the
    connect deadline, before any partition, run or step."""
    monkeypatch.setenv("DP_TRITON_URL", "127.0.0.1:9")  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(DpError) as info:
        run(dagster_instance, tmp_path, gpu_triton_on(tmp_path, "cpu", 0))
    assert time.monotonic() - started < 30
    assert info.value.code is ErrorCode.MODEL_UNAVAILABLE
    assert "127.0.0.1:9" in info.value.message
    assert dagster_instance.get_runs() == []
    assert dagster_instance.get_dynamic_partitions("videos") == []
