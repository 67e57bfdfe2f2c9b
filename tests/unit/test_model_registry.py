"""The model registry: folder contract (precision, digests, stand-in), packaged models, and
the resolved model mapping of a profile, from files alone."""

import json

import pytest

from dp_assets.components import model_families, parse_profile
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import digest_of_files, sha256_file
from dp_core.manifest import RunSection
from dp_resources.models.families import FAMILIES
from dp_resources.models.families.clap import load_clap
from dp_resources.models.families.packaged import load_silero_vad
from dp_resources.models.providers import runtime_options
from dp_resources.models.registry import (
    PINNED_DIGESTS,
    ModelFamily,
    PlannedModel,
    describe_folder,
    describe_model,
    family,
    folder_precision,
    manifest_model_mapping,
    resolve_model_mapping,
)
from dp_tools.stand_ins.clap import build_clap_stand_in

pytestmark = pytest.mark.unit
COMPONENT_FAMILIES = model_families()  # component -> model family, from the specs


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("DP_MODEL_DIR", str(folder))
    monkeypatch.setenv("DP_MODEL_CACHE", str(tmp_path / "cache"))
    return folder


def profile(**components):
    return parse_profile({"name": "p", "components": {"segmenter": {}, **components}})


def test_a_model_digest_is_its_file_or_the_digest_of_its_files(tmp_path):
    (tmp_path / "a.onnx").write_bytes(b"a")
    (tmp_path / "t.json").write_bytes(b"t")
    one = PlannedModel("m", "1", "fp32", {"a.onnx": tmp_path / "a.onnx"})
    assert one.weights_digest == sha256_file(tmp_path / "a.onnx")
    files = {"a.onnx": tmp_path / "a.onnx", "t.json": tmp_path / "t.json"}
    assert PlannedModel("m", "1", "fp32", files).weights_digest == digest_of_files(files)


def test_every_family_declares_a_loader_and_its_files():
    for name, model_family in FAMILIES.items():
        assert family(name) is model_family
        # the loader joined the declaration in the family's own module
        assert callable(model_family.loader), name
        assert model_family.module.startswith("dp_resources.models.families."), name
        assert model_family.packaged == (model_family.models is not None), name
        assert bool(model_family.towers) != bool(model_family.models), name
    # every component spec names a family the registry knows, and every family is used
    assert set(COMPONENT_FAMILIES.values()) == set(FAMILIES)


def test_a_family_takes_its_loader_once():
    declared = ModelFamily("toy", "Toy", "toy-model", "nowhere")
    with pytest.raises(DpError):
        declared.load()

    @declared.loads
    def load_toy(size):
        return ("toy", size)

    assert declared.load(3) == ("toy", 3)
    assert declared.module == __name__
    with pytest.raises(ValueError, match="already has its loader"):
        declared.loads(lambda: None)


def test_precision_comes_from_model_json_then_the_marker_then_fp32(tmp_path):
    assert folder_precision(tmp_path) == "fp32"
    (tmp_path / "stand_in.json").write_text(json.dumps({"precision": "fp16"}))
    assert folder_precision(tmp_path) == "fp16"
    (tmp_path / "model.json").write_text(json.dumps({"precision": "int8"}))
    assert folder_precision(tmp_path) == "int8"
    (tmp_path / "model.json").write_text(json.dumps({"precision": "int4"}))
    with pytest.raises(DpError) as raised:
        folder_precision(tmp_path)
    assert raised.value.code == ErrorCode.MODEL_NOT_FOUND and "int4" in raised.value.message


def test_a_stand_in_folder_is_described_as_its_loader_reports_it(model_dir):
    folder = build_clap_stand_in(model_dir / "clap")
    info = describe_folder(folder, "clap")
    used = load_clap(folder).models_used
    assert info.present and info.stand_in and info.precision == "fp32"
    assert info.name == "clap-htsat-stand-in" and info.version == "stand-in-v1-seed0"
    assert list(info.files.values()) == [m.weights_digest for m in used]
    assert [m["weights_digest"] for m in info.models] == [m.weights_digest for m in used]
    assert [m["name"] for m in info.models] == [m.name for m in used]
    assert info.weights_digest == digest_of_files({f: folder / f for f in info.files})


def test_a_missing_folder_says_how_to_get_the_model(model_dir):
    info = describe_model("midas")
    assert not info.present and info.weights_digest == "" and info.files == {}
    assert "midas.onnx missing" in info.problem and "dp models stand-in midas" in info.problem


def test_unknown_family_is_config_invalid():
    with pytest.raises(DpError) as raised:
        family("yolo")
    assert raised.value.code == ErrorCode.CONFIG_INVALID and "clap" in raised.value.message


def test_packaged_model_digest_matches_its_loader(model_dir):
    info = describe_model("silero")
    used = load_silero_vad().model_used
    assert info.present and not info.stand_in
    assert info.models[0]["weights_digest"] == used.weights_digest
    assert info.version == used.version and info.models[0]["name"] == used.name


def test_real_means_the_digest_is_pinned_in_the_family_registry(model_dir, monkeypatch):
    info = describe_model("silero")
    used = load_silero_vad().model_used
    assert info.status == "real" and info.verified and info.models[0]["verified"]
    assert used.verified and not used.stand_in
    assert used.weights_digest in PINNED_DIGESTS["silero"]
    # the same files, their digest not pinned: unverified wherever it is reported
    monkeypatch.setitem(PINNED_DIGESTS, "silero", {})
    info = describe_model("silero")
    assert info.status == "unverified" and not info.verified and not info.models[0]["verified"]
    assert not load_silero_vad().model_used.verified
    [entry] = resolve_model_mapping(
        profile(speech_activity={}), {"speech_activity": "silero"}
    ).values()
    assert not entry["verified"] and not entry["models_used"][0]["verified"]


def test_a_stand_in_is_never_real_even_with_a_pinned_digest(model_dir, monkeypatch):
    folder = build_clap_stand_in(model_dir / "clap")
    used = load_clap(folder).models_used
    monkeypatch.setitem(PINNED_DIGESTS, "clap", {m.weights_digest: "test" for m in used})
    info = describe_folder(folder, "clap")
    assert info.status == "stand-in" and not info.verified
    assert not any(m.verified for m in load_clap(folder).models_used)


def test_mapping_covers_the_components_that_run_models(model_dir):
    build_clap_stand_in(model_dir / "clap")
    mapping = resolve_model_mapping(
        profile(
            clap_extractor={"device": "cuda"},
            speech_activity={},
            core_depth_midas={"runtime": "triton"},
            cut_detection={},
        ),
        COMPONENT_FAMILIES,
    )
    assert sorted(mapping) == ["clap_extractor", "core_depth_midas", "speech_activity"]
    clap = mapping["clap_extractor"]
    assert clap["device"] == "cuda:0" and clap["runtime"] == "onnxruntime" and clap["stand_in"]
    assert clap["weights_digest"] == describe_model("clap").weights_digest
    midas = mapping["core_depth_midas"]
    assert midas["runtime"] == "triton" and midas["engine"] == "triton"
    assert midas["triton_models"] == ["midas"]
    assert not midas["present"] and "dp models stand-in midas" in midas["problem"]
    assert mapping["speech_activity"]["model"] == "silero-vad"
    assert set(COMPONENT_FAMILIES) >= set(mapping)


def test_a_named_folder_is_resolved_instead_of_the_default(model_dir):
    folder = build_clap_stand_in(model_dir / "clap-seed7", seed=7)
    default = build_clap_stand_in(model_dir / "clap")
    chosen = resolve_model_mapping(
        profile(clap_extractor={"model": "clap-seed7"}), COMPONENT_FAMILIES
    )
    assert chosen["clap_extractor"]["files"]["clap_audio.onnx"] == sha256_file(
        folder / "clap_audio.onnx"
    )
    assert sha256_file(folder / "clap_audio.onnx") != sha256_file(default / "clap_audio.onnx")


def test_the_loader_gets_the_folder_the_mapping_names(model_dir):
    """What runs is what the manifest says: the asset passes the chosen folder on."""
    chosen = build_clap_stand_in(model_dir / "clap-seed7", seed=7)
    build_clap_stand_in(model_dir / "clap")
    named = profile(clap_extractor={"model": "clap-seed7"})
    loaded = load_clap(**runtime_options(named, "clap_extractor", "clap"))
    mapping = resolve_model_mapping(named, COMPONENT_FAMILIES)["clap_extractor"]
    assert loaded.audio.model_used.weights_digest == sha256_file(chosen / "clap_audio.onnx")
    assert mapping["files"]["clap_audio.onnx"] == loaded.audio.model_used.weights_digest
    default = load_clap(**runtime_options(profile(clap_extractor={}), "clap_extractor", "clap"))
    assert default.audio.model_used.weights_digest != loaded.audio.model_used.weights_digest


def test_manifest_mapping_keeps_explicit_entries_and_old_manifests_load(model_dir):
    explicit = parse_profile(
        {
            "name": "p",
            "components": {"segmenter": {}, "speech_activity": {}},
            "resolved_model_mapping": {"ocr": "rapidocr-ppocrv6", "speech_activity": "x"},
        }
    )
    merged = manifest_model_mapping(explicit, COMPONENT_FAMILIES)
    assert merged["ocr"] == "rapidocr-ppocrv6"  # not in the profile's components: kept as is
    assert merged["speech_activity"]["model"] == "silero-vad"  # resolved: details win
    run = dict(
        run_id="r",
        dataprocessor_version="0",
        profile="p",
        config_hash="c",
        analysis={},
        storage={},
        started_at=None,
        finished_at=None,
        dagster_run_status="SUCCESS",
        status="success",
    )
    assert RunSection(**run, resolved_model_mapping={"ocr": "x"}).resolved_model_mapping == {
        "ocr": "x"
    }
    assert RunSection(**run, resolved_model_mapping=merged).resolved_model_mapping == merged
