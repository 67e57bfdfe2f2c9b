import pytest
import yaml

from dp_assets.components import catalog, load_profile, parse_profile
from dp_core.errors import DpError, ErrorCode
from dp_core.profile import PROFILES_DIR

pytestmark = pytest.mark.unit


def base() -> dict:
    return yaml.safe_load((PROFILES_DIR / "cpu_baseline.yaml").read_text())


def test_shipped_profiles_load():
    profile = load_profile("cpu_baseline")
    assert profile.name == "cpu_baseline" and profile.components["segmenter"].required
    assert all(spec.device == "cpu" for spec in profile.components.values())


def test_gpu_triton_requires_every_component_and_serves_models_on_triton():
    profile = load_profile("gpu_triton")
    assert set(profile.components) == set(catalog())
    assert all(spec.required for spec in profile.components.values())
    on_triton = {n for n, s in profile.components.items() if s.runtime == "triton"}
    assert on_triton == {n for n, spec in catalog().items() if "triton" in spec.runtimes}
    assert all(profile.components[n].device == "cuda" for n in on_triton)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["analysis"].update(fps=-1), "analysis.fps"),
        (lambda d: d["analysis"].update(fsp=2), "analysis.fsp"),
        (
            lambda d: d["components"]["segmenter"].update(required="sometimes"),
            "components.segmenter.required",
        ),
        (lambda d: d["components"].update(core_klip={}), "core_klip"),
        (lambda d: d["components"].pop("cut_detection"), "needs 'cut_detection'"),
        (lambda d: d["components"].pop("segmenter"), "segmenter"),
        (lambda d: d.update(name="Bad Name"), "name"),
        (lambda d: d["batching"].update(videos_per_run=0), "batching.videos_per_run"),
        (lambda d: d["components"]["cut_detection"].update(device="cuda"), "cut_detection.device"),
        (lambda d: d["components"]["ocr"].update(runtime="triton"), "ocr.runtime"),
        # typed params: a typo or a bad value is refused naming the field
        (
            lambda d: d["components"]["ocr"]["params"].update(engin="tesseract"),
            "components.ocr.params.engin",
        ),
        (
            lambda d: d["components"]["ocr"]["params"].update(engine="easyocr"),
            "components.ocr.params.engine",
        ),
        (
            lambda d: d["components"]["core_face_landmarks"]["params"].update(min_confidence=2),
            "components.core_face_landmarks.params.min_confidence",
        ),
        (
            lambda d: d["components"]["tempo_extractor"].update(params={"bpm": 120}),
            "components.tempo_extractor.params.bpm",
        ),
    ],
)
def test_a_wrong_profile_names_the_bad_field(change, named):
    data = base()
    change(data)
    with pytest.raises(DpError) as info:
        parse_profile(data, "test.yaml")
    assert info.value.code is ErrorCode.CONFIG_INVALID
    assert named in info.value.message


def test_unknown_profile_and_bad_yaml(tmp_path):
    with pytest.raises(DpError, match=r"available: .*cpu_baseline"):
        load_profile("no_such_profile")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(DpError) as info:
        load_profile(str(bad))
    assert info.value.code is ErrorCode.CONFIG_INVALID


def test_config_hash_ignores_formatting_but_not_values(tmp_path):
    data = base()
    reordered = dict(reversed(list(data.items())))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(reordered, default_flow_style=True))
    assert load_profile(str(path)).config_hash == parse_profile(data).config_hash
    data["analysis"]["fps"] = 3.0
    assert parse_profile(data).config_hash != load_profile(str(path)).config_hash


def test_components_come_in_dependency_order_whatever_the_yaml_order():
    data = base()
    data["components"] = dict(reversed(list(data["components"].items())))
    order = parse_profile(data).component_order()
    specs = catalog()
    for position, name in enumerate(order):
        for upstream in (*specs[name].inputs, *specs[name].optional_inputs):
            if upstream in order:
                assert order.index(upstream) < position, (upstream, name)
    assert parse_profile(data).config_hash == parse_profile(base()).config_hash
