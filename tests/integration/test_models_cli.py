"""`dp models` as a user runs it (click's runner, in-process): stand-ins, int8 / fp16 copies
that the loaders accept and label, Triton export, TensorRT and pull failing clearly here,
`list`, and the resolved model mapping in a real run's manifest."""

import json
import socket
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from click.testing import CliRunner
from PIL import Image

from dp_assets.components import load_profile, model_families, parse_profile
from dp_assets.definitions import Settings
from dp_cli.main import main
from dp_cli.process import process_videos
from dp_cli.samples import fetch_photos
from dp_core.artifact import ArtifactMeta, ModelUsed, decode_artifact
from dp_core.hashing import sha256_file
from dp_core.manifest import Manifest
from dp_resources.models.families.clap import load_clap
from dp_resources.models.families.clip import load_clip
from dp_resources.models.families.midas import load_midas
from dp_resources.models.registry import resolve_model_mapping
from dp_tools.triton_repository import read_config
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

# Tolerances, quantized vs fp32 outputs of the same stand-in. fp16 keeps 11 significant
# bits (relative error ~5e-4 per op): embeddings stay within cosine 0.9999 (measured
# 0.9999999). int8 dynamic quantization rounds each weight tensor and activation to 1/255
# of its range (~0.4 % per layer): measured cosine 0.9998 for CLAP and CLIP; 0.995 leaves
# room for other seeds and is still far above the cosine of two different photos (0.80).
# MiDaS: max |error| / depth range measured 0.006 (int8) and 0.0005 (fp16).
MIN_COSINE = {"int8": 0.995, "fp16": 0.9999}
MAX_DEPTH_ERROR = {"int8": 0.02, "fp16": 0.002}


@pytest.fixture
def model_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("DP_MODEL_DIR", str(folder))
    monkeypatch.setenv("DP_MODEL_CACHE", str(tmp_path / "cache"))
    return folder


def dp(*args, env=None, rc=0):
    done = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert done.exit_code == rc, done.output
    return done.output


def photos() -> np.ndarray:
    paths = fetch_photos(REPO / "samples")
    return np.stack(
        [
            np.asarray(Image.open(paths[name]).convert("RGB").resize((320, 240)))
            for name in ("astronaut", "chelsea")
        ]
    )


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_stand_ins_for_every_family_are_labelled_and_seeded(model_dir):
    for name in ("clap", "clip", "midas"):
        shown = dp("models", "stand-in", name)
        assert shown.count("(stand-in)") == (1 if name == "midas" else 2)
    assert all(m.stand_in for m in load_clip(model_dir / "clip").models_used)
    assert load_midas(model_dir / "midas").models_used[0].name == "midas-v2.1-small-stand-in"
    first = sha256_file(model_dir / "clip" / "clip_image.onnx")
    dp("models", "stand-in", "clip", "--dir", str(model_dir / "other"), "--seed", "0")
    assert sha256_file(model_dir / "other" / "clip_image.onnx") == first  # same seed, same bytes
    dp("models", "stand-in", "clip", "--dir", str(model_dir / "other"), "--seed", "1")
    assert sha256_file(model_dir / "other" / "clip_image.onnx") != first


def test_quantized_copies_load_labelled_and_close_to_fp32(model_dir):
    dp("models", "stand-in", "clap")
    dp("models", "stand-in", "clip")
    dp("models", "stand-in", "midas")
    frames = photos()
    rng = np.random.default_rng(3)
    waves = (rng.standard_normal((2, 480000)) * 0.1).astype(np.float32)
    texts = ["a dog barks", "rain on a roof"]
    clap32, clip32, midas32 = (
        load_clap(model_dir / "clap"),
        load_clip(model_dir / "clip"),
        load_midas(model_dir / "midas"),
    )
    reference = {
        "clap_audio": clap32.embed_audio(waves),
        "clap_text": clap32.embed_text(texts),
        "clip": clip32.embed_frames(frames),
        "midas": midas32.depth(frames),
    }
    assert cosines(reference["clip"][:1], reference["clip"][1:])[0] < 0.9  # photos differ
    signatures = {"fp32": ArtifactMeta(**_meta(clap32.models_used)).model_signature}
    for mode in ("int8", "fp16"):
        for name in ("clap", "clip", "midas"):
            shown = dp("models", "quantize", name, "--mode", mode)
            assert f"{model_dir / f'{name}-{mode}'}:" in shown and f" {mode} " in shown
            assert "(stand-in)" in shown
        clap = load_clap(model_dir / f"clap-{mode}")
        clip = load_clip(model_dir / f"clip-{mode}")
        midas = load_midas(model_dir / f"midas-{mode}")
        for model in (clap, clip, midas):
            assert {(m.precision, m.stand_in) for m in model.models_used} == {(mode, True)}
        assert cosines(clap.embed_audio(waves), reference["clap_audio"]).min() >= MIN_COSINE[mode]
        assert cosines(clap.embed_text(texts), reference["clap_text"]).min() >= MIN_COSINE[mode]
        assert cosines(clip.embed_frames(frames), reference["clip"]).min() >= MIN_COSINE[mode]
        depth, depth32 = midas.depth(frames), reference["midas"]
        error = np.abs(depth - depth32).max() / (depth32.max() - depth32.min())
        assert error <= MAX_DEPTH_ERROR[mode]
        # The weights really changed type, and the I/O signature did not.
        graph = onnx.load(str(model_dir / f"clap-{mode}" / "clap_audio.onnx")).graph
        kinds = {i.data_type for i in graph.initializer}
        wanted = onnx.TensorProto.INT8 if mode == "int8" else onnx.TensorProto.FLOAT16
        assert wanted in kinds
        assert [i.type.tensor_type.elem_type for i in graph.input] == [onnx.TensorProto.FLOAT]
        info = json.loads((model_dir / f"clap-{mode}" / "model.json").read_text())
        assert info["precision"] == mode and info["stand_in"] is True
        assert info["sha256"]["clap_audio.onnx"] == sha256_file(
            model_dir / f"clap-{mode}" / "clap_audio.onnx"
        )
        signatures[mode] = ArtifactMeta(**_meta(clap.models_used)).model_signature
    assert len(set(signatures.values())) == 3  # fp32, int8, fp16: three signatures
    smaller = (model_dir / "clap-int8" / "clap_text.onnx").stat().st_size
    assert smaller < 0.4 * (model_dir / "clap" / "clap_text.onnx").stat().st_size


def _meta(models_used: list[ModelUsed]) -> dict:
    return dict(
        component="clap_extractor",
        component_version="1",
        dataprocessor_version="test",
        run_id="r",
        platform="local",
        video_id="v",
        status="ok",
        config_hash="c",
        models_used=models_used,
    )


def test_signature_differs_between_onnxruntime_and_triton(model_dir):
    dp("models", "stand-in", "clap")
    base = {
        "segmenter": {},
        "clap_extractor": {"runtime": "onnxruntime"},
    }
    local = parse_profile({"name": "local", "components": base})
    served = parse_profile(
        {"name": "served", "components": {**base, "clap_extractor": {"runtime": "triton"}}}
    )
    used = load_clap(model_dir / "clap").models_used
    local_entry = resolve_model_mapping(local, model_families())["clap_extractor"]
    served_entry = resolve_model_mapping(served, model_families())["clap_extractor"]
    assert local_entry["engine"] == "onnxruntime" and served_entry["engine"] == "triton"
    assert served_entry["weights_digest"] == local_entry["weights_digest"]
    triton_used = [
        m.model_copy(update={"engine": served_entry["engine"], "device": served_entry["device"]})
        for m in used
    ]
    assert (
        ArtifactMeta(**_meta(used)).model_signature
        != ArtifactMeta(**_meta(triton_used)).model_signature
    )


def test_export_writes_a_triton_repository_with_digests(model_dir, tmp_path):
    dp("models", "stand-in", "clap")
    dp("models", "quantize", "clap", "--mode", "int8")
    repository = tmp_path / "repo"
    shown = dp(
        "models", "export", "clap", "--from", str(model_dir / "clap-int8"), "--to", str(repository)
    )
    for triton_name, file in (("clap_audio", "clap_audio.onnx"), ("clap_text", "clap_text.onnx")):
        served = repository / triton_name / "1" / "model.onnx"
        digest = sha256_file(model_dir / "clap-int8" / file)
        assert sha256_file(served) == digest and digest in shown
        config = read_config(repository / triton_name / "config.pbtxt")
        parameters = {k: v.string_value for k, v in config.parameters.items()}
        assert parameters["weights_digest"] == digest
        assert parameters["precision"] == "int8" and parameters["stand_in"] == "true"
        assert config.backend == "onnxruntime" and config.name == triton_name
        session = ort.InferenceSession(str(served), providers=["CPUExecutionProvider"])
        assert sorted(i.name for i in config.input) == sorted(i.name for i in session.get_inputs())
        assert [o.name for o in config.output] == [o.name for o in session.get_outputs()]


def test_export_without_a_model_names_how_to_get_one(model_dir, tmp_path):
    shown = dp("models", "export", "midas", "--to", str(tmp_path / "repo"), rc=2)
    assert "MODEL_NOT_FOUND" in shown and "dp models stand-in midas" in shown
    assert not (tmp_path / "repo").exists()


def test_tensorrt_is_dependency_missing_here(model_dir):
    dp("models", "stand-in", "midas")
    shown = dp("models", "trt", "midas", "--fp16", rc=2)
    assert "DEPENDENCY_MISSING" in shown and "pip install tensorrt" in shown
    assert not (model_dir / "midas-trt-fp16").exists()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed once the probe is: connections are refused


def test_pull_without_a_hub_is_model_unavailable(model_dir, tmp_path):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    shown = dp("models", "pull", "clip", env={"HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": ""}, rc=2)
    assert "MODEL_UNAVAILABLE" in shown and f"cannot reach {endpoint}" in shown
    assert "dp models stand-in" in shown
    shown = dp("models", "pull", "clap", env={"HF_HUB_OFFLINE": "1"}, rc=2)
    assert "MODEL_UNAVAILABLE" in shown and "HF_HUB_OFFLINE" in shown
    assert not (tmp_path / "cache" / "checkpoints" / "clap").exists()


def test_list_shows_folders_digests_and_missing_models(model_dir):
    dp("models", "stand-in", "clap")
    dp("models", "quantize", "clap", "--mode", "fp16")
    listed = {(m["family"], m["location"]): m for m in json.loads(dp("models", "list", "--json"))}
    clap = listed[("clap", str(model_dir / "clap"))]
    fp16 = listed[("clap", str(model_dir / "clap-fp16"))]
    assert clap["present"] and clap["stand_in"] and clap["precision"] == "fp32"
    assert fp16["present"] and fp16["stand_in"] and fp16["precision"] == "fp16"
    assert fp16["files"]["clap_text.onnx"] == sha256_file(
        model_dir / "clap-fp16" / "clap_text.onnx"
    )
    nanodet = next(m for m in listed.values() if m["family"] == "nanodet")
    assert not nanodet["present"] and "dp models prepare nanodet" in nanodet["problem"]
    silero = next(m for m in listed.values() if m["family"] == "silero")
    assert silero["present"] and not silero["stand_in"] and silero["engine"] == "onnxruntime"
    text = dp("models", "list")
    assert "nanodet    missing" in text and "clap-htsat-stand-in" in text and "stand-in" in text


def test_manifest_records_the_resolved_model_mapping(model_dir, tmp_path, dagster_instance):
    # The default CLAP folder holds an int8 copy of a stand-in: what the run resolves and
    # what the loader serves must agree on it.
    dp("models", "stand-in", "clap", "--dir", str(model_dir / "clap-fp32"))
    dp(
        "models",
        "quantize",
        "clap",
        "--mode",
        "int8",
        "--from",
        str(model_dir / "clap-fp32"),
        "--out",
        str(model_dir / "clap"),
    )
    profile_file = tmp_path / "clap_only.yaml"
    profile_file.write_text(
        "name: clap_only\n"
        "components:\n"
        "  segmenter: {}\n"
        "  clap_extractor: {required: false}\n"
        "resolved_model_mapping: {speech_activity: silero-vad}\n",
        encoding="utf-8",
    )
    profile = load_profile(str(profile_file))
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=2.0, width=64, height=48, fps=5))
    [result], storage = process_videos(
        dagster_instance,
        [str(clip)],
        Settings(storage_base=str(tmp_path / "store"), profile=str(profile_file)),
        profile,
        None,
        lambda line: None,
    )
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    mapping = manifest.run.resolved_model_mapping
    assert mapping["speech_activity"] == "silero-vad"  # the profile's explicit entry, kept
    assert "segmenter" not in mapping  # runs no model
    entry = mapping["clap_extractor"]
    expected = {
        "model": "clap-htsat-stand-in",
        "precision": "int8",
        "engine": "onnxruntime",
        "runtime": "onnxruntime",
        "device": "cpu",
        "stand_in": True,
        "present": True,
    }
    assert {k: entry[k] for k in expected} == expected
    clap = manifest.component("clap_extractor")
    assert clap.status == "success"
    artifact = decode_artifact(storage.get_bytes(clap.artifact_key))
    used = artifact.meta.models_used
    assert {(m.precision, m.stand_in, m.engine) for m in used} == {("int8", True, "onnxruntime")}
    assert sorted(m.weights_digest for m in used) == sorted(entry["files"].values())
