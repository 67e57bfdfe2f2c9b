"""Re-runs compute only what is missing, failed or stale (issue 14): an unchanged re-run
computes nothing, a settings change recomputes exactly that component and its dependants,
`force` recomputes everything. Real Dagster instance, real folder storage, in process."""

import shutil

import pytest
import yaml

from dp_assets.components import catalog, load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
from dp_tools.stand_ins import build_stand_in
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
COMPONENTS = {
    "segmenter": {},
    "cut_detection": {},
    "core_optical_flow": {},
    "shot_quality": {"frame_budget": {"fps": 1.0}},
    "video_pacing": {},
    "color_dynamics": {"frame_budget": {"fps": 1.0}},
    "tempo_extractor": {},
}


def dependants_of(name: str) -> set[str]:
    found, grew = {name}, True
    while grew:
        grew = False
        for spec in catalog().values():
            upstream = {*spec.inputs, *spec.optional_inputs}
            if spec.name in COMPONENTS and spec.name not in found and found & upstream:
                found.add(spec.name)
                grew = True
    return found


def process_with(instance, tmp_path, clips, components, force=False, extra=None):
    """`process_videos` of `clips` under a profile of `components` (+ `extra` top-level
    profile sections), in `tmp_path`."""
    path = tmp_path / "profile.yaml"
    profile = {"name": "reuse", "components": components, **(extra or {})}
    path.write_text(yaml.safe_dump(profile))
    return process_videos(
        instance,
        [str(c) for c in clips],
        Settings(storage_base=str(tmp_path / "store"), profile=str(path)),
        load_profile(str(path)),
        None,
        lambda _: None,
        force=force,
    )


@pytest.fixture
def process(tmp_path, dagster_instance):
    clips = [
        make_clip(tmp_path / f"v{i}.mp4", ClipSpec(duration_s=2.0, texture=True)) for i in range(2)
    ]

    def run(components, force=False):
        before = {r.run_id for r in dagster_instance.get_runs()}
        results, store = process_with(dagster_instance, tmp_path, clips, components, force)
        assert all(r.status == "success" for r in results), [r.message for r in results]
        manifests = [Manifest.model_validate_json(store.get_bytes(r.manifest_key)) for r in results]
        new_runs = {r.run_id for r in dagster_instance.get_runs()} - before
        computed = [  # components whose artifact a run of this call made
            {
                c.name
                for c in m.components
                if c.artifact_key and c.artifact_key.split("/")[3] in new_runs
            }
            for m in manifests
        ]
        return results, manifests, computed

    return run


def test_an_unchanged_rerun_computes_nothing_and_says_so(process, dagster_instance):
    first, _, computed = process(COMPONENTS)
    assert computed == [set(COMPONENTS)] * 2 and all(r.reused == 0 for r in first)
    runs = len(dagster_instance.get_runs())
    again, _, computed = process(COMPONENTS)
    assert len(dagster_instance.get_runs()) == runs  # no run at all
    assert computed == [set(), set()] and all(r.reused == len(COMPONENTS) for r in again)
    assert [r.manifest_key for r in again] == [r.manifest_key for r in first]


def test_a_settings_change_recomputes_exactly_that_component_and_its_dependants(process):
    process(COMPONENTS)
    changed = {**COMPONENTS, "cut_detection": {"retries": 5, "frame_budget": {"fps": 0.5}}}
    _, manifests, computed = process(changed)
    expected = dependants_of("cut_detection")
    assert expected == {"cut_detection", "shot_quality", "video_pacing", "color_dynamics"}
    assert computed == [expected, expected]
    for manifest in manifests:  # the rest was reused from the first run, and says so
        reused = {c.name for c in manifest.components if c.reused_from_run}
        assert reused == set(COMPONENTS) - expected
    # a change that does not change outputs (retries, required) recomputes nothing
    quiet = {**changed, "tempo_extractor": {"retries": 0, "required": False}}
    _, _, computed = process(quiet)
    assert computed == [set(), set()]


def test_a_params_change_recomputes_only_that_component_and_force_everything(process):
    process(COMPONENTS)
    _, _, computed = process({**COMPONENTS, "color_dynamics": {"params": {"levels": 4}}})
    assert computed == [{"color_dynamics"}] * 2
    _, _, computed = process(COMPONENTS, force=True)
    assert computed == [set(COMPONENTS)] * 2


def test_a_model_change_recomputes_only_the_component_that_runs_it(
    tmp_path, dagster_instance, monkeypatch
):
    monkeypatch.setenv("DP_MODEL_DIR", str(tmp_path / "models"))
    build_stand_in("clap", tmp_path / "models" / "clap", seed=0)
    components = {"segmenter": {}, "tempo_extractor": {}, "clap_extractor": {}}
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=2.0))

    def run():
        [result], store = process_with(dagster_instance, tmp_path, [clip], components)
        manifest = Manifest.model_validate_json(store.get_bytes(result.manifest_key))
        return result, {c.name for c in manifest.components if c.reused_from_run}

    run()
    assert run()[0].reused == len(components)  # unchanged: all up to date
    shutil.rmtree(tmp_path / "models" / "clap")
    build_stand_in("clap", tmp_path / "models" / "clap", seed=1)  # other weights
    assert run()[1] == {"segmenter", "tempo_extractor"}  # clap_extractor recomputed


def test_a_replaced_source_file_is_segmented_again(tmp_path, dagster_instance):
    """Same name, same video id, other content: nothing of the old file is reused."""
    components = {"segmenter": {}, "cut_detection": {}, "tempo_extractor": {}}
    clip = tmp_path / "v.mp4"

    def run():
        [result], store = process_with(dagster_instance, tmp_path, [clip], components)
        return result, store

    make_clip(clip, ClipSpec(duration_s=1.0))
    run()
    assert run()[0].reused == len(components)
    make_clip(clip, ClipSpec(duration_s=2.0))  # the file is replaced
    result, store = run()
    manifest = Manifest.model_validate_json(store.get_bytes(result.manifest_key))
    assert result.reused == 0 and not any(c.reused_from_run for c in manifest.components)
    segmenter = decode_artifact(store.get_bytes(manifest.component("segmenter").artifact_key))
    assert float(segmenter.arrays["duration_s"]) == pytest.approx(2.0, abs=0.05)
