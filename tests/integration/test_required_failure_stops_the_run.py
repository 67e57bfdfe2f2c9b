"""SPEC: "a required component that fails stops the run: no new component steps start".
Dagster's own executors stop only the failed step's dependants; ours (dp_assets/execution.py)
abandon every step that has not started, independent ones included (issue 15)."""

import pytest
import yaml
from dagster import DagsterEventType, DagsterRunStatus

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_cli.process import process_videos
from dp_core.manifest import Manifest
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration

# text_features (required) fails on the broken sidecar. In Dagster's step order it runs
# before story_structure (ready only after video_pacing), which does not depend on it: the
# stock in-process executor runs story_structure after text_features failed.
PROFILE = {
    "name": "stops_on_required_failure",
    "analysis": {"fps": 1.0, "width": 160, "height": 160},
    "components": {
        "segmenter": {"required": True},
        "ocr": {"required": False, "params": {"engine": "tesseract"}},
        "text_features": {"required": True},
        "cut_detection": {"required": False},
        "core_optical_flow": {"required": False},
        "video_pacing": {"required": False},
        "story_structure": {"required": False},
    },
}


def step_events(instance, run_id, event_type):
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return [r.event_log_entry.dagster_event.step_key for r in records]


@pytest.mark.parametrize("step_threads", [1, 2])
def test_no_step_starts_after_a_required_component_failed(tmp_path, dagster_instance, step_threads):
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(yaml.safe_dump({**PROFILE, "batching": {"step_threads": step_threads}}))
    clip = make_clip(tmp_path / "in" / "clip.mp4", ClipSpec(duration_s=1.0))
    clip.with_suffix(".json").write_bytes(b"{not json")
    settings = Settings.of(str(tmp_path / "store"), str(profile_file))
    [result], storage = process_videos(
        dagster_instance,
        [str(clip)],
        settings,
        load_profile(str(profile_file)),
        None,
        lambda _: None,
    )

    run_id = result.run_id
    assert dagster_instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
    started = step_events(dagster_instance, run_id, DagsterEventType.STEP_START)
    assert step_events(dagster_instance, run_id, DagsterEventType.STEP_FAILURE) == ["text_features"]
    [failure] = dagster_instance.get_records_for_run(
        run_id, of_type=DagsterEventType.STEP_FAILURE
    ).records
    late = [  # steps whose start was logged after the failure
        r.event_log_entry.dagster_event.step_key
        for r in dagster_instance.get_records_for_run(
            run_id, of_type=DagsterEventType.STEP_START
        ).records
        if r.storage_id > failure.storage_id
    ]
    assert late == [], late
    manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
    for name in PROFILE["components"]:
        if name not in started:
            assert manifest.component(name).status == "skipped", name
    assert result.status == "error" and result.error_code == "INPUT_CORRUPT"
    if step_threads > 1:
        return  # a step that ran beside text_features may have finished: nothing more is fixed
    assert started[-1] == "text_features", started  # nothing started after it
    assert "story_structure" not in started
    warnings = [
        r.event_log_entry.user_message
        for r in dagster_instance.get_records_for_run(run_id).records
        if r.event_log_entry.dagster_event is None
    ]
    assert any(
        "Not starting step story_structure: required component text_features failed" in message
        for message in warnings
    ), warnings
    assert manifest.component("text_features").status == "error"
    assert manifest.component("text_features").error_code.value == "INPUT_CORRUPT"
    assert manifest.component("story_structure").status == "skipped"
