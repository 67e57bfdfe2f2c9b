"""A component whose real weights are not installable offline (CLAP) runs on a labelled
stand-in through the whole graph; without any model it fails with MODEL_NOT_FOUND, as an
optional component: the video still succeeds."""

import pytest

from dp_assets.components import load_profile, model_families
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
from dp_resources.models.registry import model_folder
from dp_tools.stand_ins import build_stand_in
from dp_tools.stand_ins.clap import build_clap_stand_in
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration


def run(instance, tmp_path, clip):
    [result], storage = process_videos(
        instance,
        [str(clip)],
        Settings(storage_base=str(tmp_path / "store"), profile="cpu_stand_in"),
        load_profile("cpu_stand_in"),
        None,
        lambda line: None,
    )
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    return result, manifest, storage


def test_clap_on_a_stand_in_is_labelled_as_one(tmp_path, dagster_instance, monkeypatch):
    monkeypatch.setenv("DP_MODEL_DIR", str(tmp_path / "models"))
    build_clap_stand_in(tmp_path / "models" / "clap")
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=12.0, width=64, height=48, fps=5))
    result, manifest, storage = run(dagster_instance, tmp_path, clip)
    clap = manifest.component("clap_extractor")
    assert result.status == "success" and clap.status == "success" and clap.model_signature
    artifact = decode_artifact(storage.get_bytes(clap.artifact_key))
    assert [m.stand_in for m in artifact.meta.models_used] == [True, True]
    assert all("stand-in" in m.name for m in artifact.meta.models_used)
    assert artifact.arrays["embeddings"].shape == (2, 512)  # 12 s: two 10 s windows
    assert artifact.arrays["tag_scores"].sum() == pytest.approx(1.0, abs=1e-5)


def test_missing_model_is_model_not_found_and_optional(tmp_path, dagster_instance, monkeypatch):
    monkeypatch.setenv("DP_MODEL_DIR", str(tmp_path / "no_models"))
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.0, width=64, height=48, fps=5))
    result, manifest, _ = run(dagster_instance, tmp_path, clip)
    clap = manifest.component("clap_extractor")
    assert clap.status == "error" and clap.error_code.value == "MODEL_NOT_FOUND"
    assert "dp models stand-in clap" in clap.error_message
    assert result.status == "success"  # optional: the video's required components succeeded


def test_the_manifest_mapping_is_what_every_model_component_ran(
    tmp_path, dagster_instance, monkeypatch
):
    """Issue 13: `resolved_model_mapping` equals what each model component loaded, for every
    family the profile runs (stand-ins for CLIP, CLAP, MiDaS; the packaged models)."""
    prepared_nanodet = model_folder("nanodet")  # by scripts/setup.sh, in the model cache
    monkeypatch.setenv("DP_MODEL_DIR", str(tmp_path / "models"))
    for name in ("clip", "clap", "midas"):
        build_stand_in(name, tmp_path / "models" / name)
    (tmp_path / "models" / "nanodet").symlink_to(prepared_nanodet)
    clip = make_clip(
        tmp_path / "v.mp4", ClipSpec(duration_s=3.0, width=160, height=120, texture=True)
    )
    result, manifest, storage = run(dagster_instance, tmp_path, clip)
    assert result.status == "success"
    mapping = manifest.run.resolved_model_mapping
    families = model_families()
    checked = set()
    for record in manifest.components:
        if record.name not in families or record.status not in ("success", "empty"):
            continue
        used = decode_artifact(storage.get_bytes(record.artifact_key)).meta.models_used
        if not used:  # e.g. text_features with no text: nothing was loaded
            continue
        listed = {
            (m["name"], m["version"], m["weights_digest"], m["precision"], m["stand_in"])
            for m in mapping[record.name]["models_used"]
        }
        ran = {(m.name, m.version, m.weights_digest, m.precision, m.stand_in) for m in used}
        if record.name == "scene_classification":  # also the image tower, from core_clip
            listed |= {
                (m["name"], m["version"], m["weights_digest"], m["precision"], m["stand_in"])
                for m in mapping["core_clip"]["models_used"]
            }
        assert ran <= listed, (record.name, ran - listed)
        checked.add(families[record.name])
    assert {"clip", "clap", "midas", "nanodet", "mediapipe", "silero", "yamnet"} <= checked
