"""Transient errors are retried with backoff, permanent ones fail at once: faults injected
at the storage boundary (a real folder storage that refuses some writes) and the model
boundary (a model call that times out), on a real Dagster instance."""

import pytest
import yaml
from dagster import DagsterEventType, materialize

from dp_assets.components import catalog, load_profile
from dp_assets.factory import component_asset
from dp_assets.resources import ProfileResource
from dp_assets.run_records import RANGE_END, RANGE_START
from dp_assets.step_api import ComponentOutput
from dp_assets.uploads import prepare_upload, register_uploads
from dp_core.artifact import decode_artifact
from dp_core.component_spec import ComponentSpec
from dp_core.errors import DpError, ErrorCode
from dp_core.profile import PROFILES_DIR
from dp_core.storage_keys import artifact_key
from dp_resources.models.resource import ModelResource
from dp_resources.storage.backends import Storage, open_storage
from dp_resources.storage.resource import StorageResource
from io_managers.npz_io_manager import NpzIOManager
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
FAULTS: dict[str, int] = {}  # key fragment -> writes still to refuse
CALLS: list[str] = []


class FaultyStorage(Storage):
    """A real storage whose writes fail, for keys holding `fragment`, `FAULTS[fragment]` times."""

    def __init__(self, inner: Storage, fragment: str, code: ErrorCode):
        self.inner, self.fragment, self.code, self.base = inner, fragment, code, inner.base

    def put_bytes(self, key, data):
        if self.fragment in key and FAULTS.get(self.fragment, 0) > 0:
            FAULTS[self.fragment] -= 1
            raise DpError(self.code, f"injected fault writing {key}")
        self.inner.put_bytes(key, data)

    def put_file(self, key, path):
        self.inner.put_file(key, path)

    def get_bytes(self, key):
        return self.inner.get_bytes(key)

    def get_file(self, key, path):
        self.inner.get_file(key, path)

    def head(self, key):
        return self.inner.head(key)

    def list(self, prefix):
        return self.inner.list(prefix)

    def delete(self, key):
        self.inner.delete(key)


class FaultyStorageResource(StorageResource):
    fragment: str
    code: str = "STORAGE_ERROR"

    def get_storage(self) -> Storage:
        return FaultyStorage(open_storage(self.base), self.fragment, ErrorCode(self.code))


def call_model_step(step):
    def call_model(video):
        CALLS.append(video.partition_key)
        if FAULTS.get("model", 0) > 0:
            FAULTS["model"] -= 1
            raise DpError(ErrorCode(FAULTS.get("model_code", "MODEL_TIMEOUT")), "injected")
        return ComponentOutput(status="ok")

    return call_model


# a stand-in component calling a flaky model, under a name the test profile has
FLAKY_SPEC = ComponentSpec(
    name="core_clip",
    group="visual",
    description="a stand-in component calling a flaky model",
    step=call_model_step,
    inputs=("segmenter",),
)


@pytest.fixture
def setup(tmp_path, dagster_instance):
    FAULTS.clear()
    CALLS.clear()
    profile = yaml.safe_load((PROFILES_DIR / "cpu_baseline.yaml").read_text())
    profile["components"] = {
        "segmenter": {"retry_backoff_s": 0.01},
        "core_clip": {"retry_backoff_s": 0.01},
    }
    profile_path = tmp_path / "fast_retry.yaml"
    profile_path.write_text(yaml.safe_dump(profile))
    active = load_profile(str(profile_path))
    segmenter = component_asset(catalog()["segmenter"], active)
    flaky = component_asset(FLAKY_SPEC, active)
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.0))
    register_uploads(dagster_instance, [prepare_upload(clip)])

    def run(fragment: str, code: str = "STORAGE_ERROR", with_model: bool = False):
        assets = (segmenter, flaky) if with_model else (segmenter,)
        storage = FaultyStorageResource(base=str(tmp_path / "store"), fragment=fragment, code=code)
        return materialize(
            list(assets),
            instance=dagster_instance,
            resources={
                "storage": storage,
                "profile": ProfileResource(profile=str(profile_path)),
                "models": ModelResource(),
                "npz_io_manager": NpzIOManager(storage=storage),
            },
            tags={RANGE_START: "local__v", RANGE_END: "local__v"},
            raise_on_error=False,
        )

    return run, open_storage(str(tmp_path / "store"))


def events(instance, run_id, kind):
    return instance.get_records_for_run(run_id, of_type=kind).records


def test_transient_storage_fault_in_a_video_is_retried_for_that_video(setup, dagster_instance):
    run, store = setup
    FAULTS["/analysis/"] = 2  # the first two attempts fail writing frames, the third works
    result = run("/analysis/")
    assert result.success
    meta = decode_artifact(
        store.get_bytes(artifact_key("local__v", result.run_id, "segmenter"))
    ).meta
    assert meta.status == "ok" and meta.model_extra["attempts"] == 3


def test_transient_fault_outlasting_the_retries_becomes_an_error_artifact(setup):
    run, store = setup
    FAULTS["/analysis/"] = 10
    result = run("/analysis/")
    meta = decode_artifact(
        store.get_bytes(artifact_key("local__v", result.run_id, "segmenter"))
    ).meta
    assert (meta.status, meta.error_code, meta.model_extra["attempts"]) == (
        "error",
        ErrorCode.STORAGE_ERROR,
        3,
    )
    assert not store.exists(f"frames_dir/local/v/{result.run_id}/metadata.json")  # cleaned up


def test_transient_fault_writing_the_artifact_retries_the_step(setup, dagster_instance):
    run, store = setup
    FAULTS["segmenter.npz"] = 1
    result = run("segmenter.npz")
    assert result.success
    assert len(events(dagster_instance, result.run_id, DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    assert store.exists(artifact_key("local__v", result.run_id, "segmenter"))


def test_permanent_fault_writing_the_artifact_fails_at_once(setup, dagster_instance):
    run, store = setup
    FAULTS["segmenter.npz"] = 1
    result = run("segmenter.npz", code="CONFIG_INVALID")
    assert not result.success
    assert events(dagster_instance, result.run_id, DagsterEventType.STEP_UP_FOR_RETRY) == []
    [failure] = events(dagster_instance, result.run_id, DagsterEventType.STEP_FAILURE)
    assert (
        "CONFIG_INVALID" in failure.event_log_entry.dagster_event.event_specific_data.error.message
    )
    assert not store.exists(artifact_key("local__v", result.run_id, "segmenter"))


@pytest.mark.parametrize(
    ("code", "calls", "status"), [("MODEL_TIMEOUT", 2, "ok"), ("MODEL_BAD_OUTPUT", 1, "error")]
)
def test_model_faults(setup, code, calls, status):
    run, store = setup
    FAULTS["model"], FAULTS["model_code"] = 1, code
    result = run("nothing", with_model=True)
    # core_clip is required in this profile: its failed check stops a single-video run
    assert result.success is (status == "ok") and len(CALLS) == calls
    meta = decode_artifact(
        store.get_bytes(artifact_key("local__v", result.run_id, "core_clip"))
    ).meta
    assert meta.status == status
