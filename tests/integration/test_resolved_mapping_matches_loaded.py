"""The manifest's `resolved_model_mapping` is what the components load, for every model
family: each component's model is loaded the way its asset loads it, and the loaded
`models_used` must equal the mapping entry's, field by field."""

import shutil

import pytest

from dp_assets.components import model_families, parse_profile
from dp_resources.models.families import FAMILIES
from dp_resources.models.families.clap import load_clap
from dp_resources.models.families.clip import load_clip
from dp_resources.models.families.faces import load_face_landmarker
from dp_resources.models.families.midas import load_midas
from dp_resources.models.families.nanodet import load_object_detector
from dp_resources.models.families.packaged import load_silero_vad, load_yamnet
from dp_resources.models.families.text import load_ocr_reader, load_text_embedder
from dp_resources.models.families.transnetv2 import load_transnetv2
from dp_resources.models.providers import onnx_providers, runtime_options
from dp_resources.models.registry import (
    model_cache_dir,
    resolve_component,
    stand_in_families,
)
from dp_tools.nanodet import prepare_nanodet
from dp_tools.stand_ins import build_stand_in

pytestmark = pytest.mark.integration
COMPONENT_FAMILY = model_families()  # component -> model family, from the specs

COMPARED = ("name", "version", "weights_digest", "precision", "engine", "device", "stand_in")


def _ocr(profile, component):
    params = dict(profile.components[component].params)
    return load_ocr_reader(str(params.pop("engine", "rapidocr")), **params)


# component -> how its asset (dp_assets/components/<component>.py) loads its model
LOADERS = {
    "core_clip": lambda p, c: load_clip(**runtime_options(p, c, COMPONENT_FAMILY[c])),
    "clap_extractor": lambda p, c: load_clap(**runtime_options(p, c, COMPONENT_FAMILY[c])),
    "core_depth_midas": lambda p, c: load_midas(**runtime_options(p, c, COMPONENT_FAMILY[c])),
    "core_object_detections": lambda p, c: load_object_detector(
        **runtime_options(p, c, COMPONENT_FAMILY[c])
    ),
    "core_face_landmarks": lambda p, c: load_face_landmarker(device=p.components[c].device),
    "speech_activity": lambda p, c: load_silero_vad(onnx_providers(p.components[c].device)),
    "audio_events": lambda p, c: load_yamnet(onnx_providers(p.components[c].device)),
    "ocr": _ocr,
    "text_features": lambda p, c: load_text_embedder(),
    "cut_detection": lambda p, c: load_transnetv2(
        model_dir=runtime_options(p, c, COMPONENT_FAMILY[c])["model_dir"]
    ),
}

# cut_detection runs TransNetV2 only with `detector: combined` (else no model, no entry)
PARAMS = {"cut_detection": {"detector": "combined"}}
CASES = [pytest.param(c, PARAMS.get(c, {}), id=c) for c in LOADERS] + [
    pytest.param("ocr", {"engine": "tesseract"}, id="ocr-tesseract"),
    pytest.param("ocr", {"engine": "rapidocr", "use_cls": True}, id="ocr-with-classifier"),
]


def test_every_family_is_covered():
    assert {COMPONENT_FAMILY[c] for c in LOADERS} == set(FAMILIES)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """Stand-ins of clap, clip, midas and the prepared NanoDet in one DP_MODEL_DIR."""
    folder = tmp_path_factory.mktemp("models")
    for name in stand_in_families():
        build_stand_in(name, folder / name, seed=3)
    prepared = model_cache_dir() / "nanodet"  # `dp models prepare nanodet` put it there
    if prepared.is_dir():
        shutil.copytree(prepared, folder / "nanodet")
    else:
        prepare_nanodet(folder / "nanodet")
    # TransNetV2 (cut_detection): prepared by scripts/setup.sh in the model cache
    (folder / "transnetv2").symlink_to(model_cache_dir() / "transnetv2")
    return folder


@pytest.mark.parametrize(("component", "params"), CASES)
def test_resolved_mapping_is_what_the_component_loads(component, params, model_dir, monkeypatch):
    monkeypatch.setenv("DP_MODEL_DIR", str(model_dir))
    upstream = {"ocr": {}} if component == "text_features" else {}
    components = {"segmenter": {}, **upstream, component: {"params": params}}
    profile = parse_profile({"name": "p", "components": components})
    entry = resolve_component(component, profile, COMPONENT_FAMILY[component])
    assert entry is not None and entry["present"], entry
    model = LOADERS[component](profile, component)
    used = getattr(model, "models_used", None) or [model.model_used]
    loaded = [{k: getattr(m, k) for k in COMPARED} for m in used]
    assert [{k: m[k] for k in COMPARED} for m in entry["models_used"]] == loaded


def test_face_landmarks_name_the_files_the_graph_runs(model_dir):
    """The MediaPipe graph runs the full-range sparse detector and the attention mesh."""
    profile = parse_profile(
        {"name": "p", "components": {"segmenter": {}, "core_face_landmarks": {}}}
    )
    entry = resolve_component("core_face_landmarks", profile, "mediapipe")
    assert set(entry["files"]) == {
        "face_detection_full_range_sparse.tflite",
        "face_landmark_with_attention.tflite",
    }
