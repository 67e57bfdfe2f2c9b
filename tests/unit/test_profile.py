import pytest
import yaml

from dp_core.components import KNOWN_COMPONENTS, TRITON_COMPONENTS
from dp_core.errors import DpError, ErrorCode
from dp_core.profile import PROFILES_DIR, load_profile, parse_profile

pytestmark = pytest.mark.unit


def base() -> dict:
    return yaml.safe_load((PROFILES_DIR / "cpu_baseline.yaml").read_text())


def test_shipped_profiles_load():
    profile = load_profile("cpu_baseline")
    assert profile.name == "cpu_baseline" and profile.components["segmenter"].required
    assert all(spec.device == "cpu" for spec in profile.components.values())


def test_gpu_triton_requires_every_component_and_serves_models_on_triton():
    profile = load_profile("gpu_triton")
    assert set(profile.components) == set(KNOWN_COMPONENTS)
    assert all(spec.required for spec in profile.components.values())
    on_triton = {n for n, s in profile.components.items() if s.runtime == "triton"}
    assert on_triton == set(TRITON_COMPONENTS)
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
