"""The reuse rules of dp_assets/freshness.py, one by one, on a real (ephemeral) Dagster
instance and a real folder storage: an artifact is reused only when it is the partition's
latest materialization, ok or empty (never an error: a re-run after a failure computes it
again), of the current fingerprint, made from the inputs reused now (the segmenter: from
this very source), and held by the storage with the recorded bytes, stream files included.
Anything not reused makes everything downstream of it computed again."""

import gc
import hashlib
import json

import numpy as np
import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, MetadataValue

from dp_assets.components import catalog, parse_profile
from dp_assets.freshness import Materialized, component_fingerprint, reusable
from dp_assets.uploads import UPLOAD_INPUT
from dp_core.artifact import Artifact, ArtifactMeta, encode_artifact
from dp_resources.storage.backends import LocalStorage
from dp_resources.storage.verified_objects import ObjectVerifier

pytestmark = pytest.mark.integration
KEY = "local__v"
SOURCE = hashlib.sha256(b"the source video").hexdigest()
FRAMES = "frames_dir/local/v/run1"
COMPONENTS = ["segmenter", "audio_events", "speech_activity", "cut_detection", "color_dynamics"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def profile_of(names, **entries):
    return parse_profile({"name": "rules", "components": {n: entries.get(n, {}) for n in names}})


class Store:
    """A folder storage and an instance holding one run (run1) of every component."""

    def __init__(self, tmp_path):
        self.instance = DagsterInstance.ephemeral()
        self.storage = LocalStorage(tmp_path / "store")
        self.fingerprints = {name: f"fp-{name}" for name in COMPONENTS}
        self.sha: dict[str, str] = {}
        self.storage.put_bytes(f"{FRAMES}/audio.wav", b"audio")
        meta = ArtifactMeta(
            component="segmenter",
            component_version="1",
            dataprocessor_version="test",
            run_id="run1",
            platform="local",
            video_id="v",
            status="ok",
            config_hash="c",
            frames_prefix=FRAMES,
            frames_digests={"audio.wav": sha(b"audio")},
        )
        self.write("segmenter", encode_artifact(Artifact(meta=meta, arrays={"x": np.arange(2)})))
        for name in COMPONENTS[1:]:
            self.write(name, f"{name} bytes".encode())

    def key(self, name, run_id="run1"):
        return f"result_store/local/v/{run_id}/{name}.npz"

    def write(self, name, data, run_id="run1", status="ok", **changes):
        """Store `data` as `name`'s artifact and report its materialization as the product
        does (component_step._report), with `changes` to the metadata."""
        self.storage.put_bytes(self.key(name, run_id), data)
        self.sha[name] = sha(data)
        spec = catalog()[name]
        inputs = (
            {UPLOAD_INPUT: SOURCE}
            if not spec.inputs
            else {n: self.sha[n] for n in (*spec.inputs, *spec.optional_inputs) if n in self.sha}
        )
        metadata = {
            "status": status,
            "artifact_key": self.key(name, run_id),
            "sha256": self.sha[name],
            "fingerprint": self.fingerprints[name],
            "input_sha256": MetadataValue.json(inputs),
        } | changes
        self.instance.report_runless_asset_event(
            AssetMaterialization(asset_key=AssetKey(name), partition=KEY, metadata=metadata)
        )

    def reusable(self, profile=None, source=SOURCE):
        warnings: list[str] = []
        kept = reusable(
            self.instance,
            KEY,
            profile or profile_of(COMPONENTS),
            catalog(),
            self.fingerprints,
            ObjectVerifier(self.storage),
            source,
            warn=warnings.append,
        )
        return kept, warnings


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path)
    yield store
    # closed here, not by the garbage collector during a later test (SQLAlchemy logs an
    # error when an in-memory instance's connection is reset from another thread)
    store.instance.dispose()
    gc.collect()


def test_an_unchanged_video_reuses_everything_as_recorded(store):
    kept, warnings = store.reusable()
    assert set(kept) == set(COMPONENTS) and warnings == []
    cut = kept["cut_detection"]
    assert (cut.artifact_key, cut.sha256, cut.status) == (
        store.key("cut_detection"),
        store.sha["cut_detection"],
        "ok",
    )
    assert cut.fingerprint == "fp-cut_detection"
    assert cut.input_sha256 == {"segmenter": store.sha["segmenter"]}
    assert kept["segmenter"].input_sha256 == {UPLOAD_INPUT: SOURCE}
    assert kept["color_dynamics"].status == "ok"


def test_an_error_artifact_is_never_reused_so_a_rerun_after_a_failure_computes_it(store):
    store.write("cut_detection", b"an error artifact", status="error", error_code="INTERNAL")
    kept, warnings = store.reusable()
    assert set(kept) == {"segmenter", "audio_events", "speech_activity"}
    assert warnings == []  # not a storage problem: simply not up to date


def test_an_empty_result_is_reused(store):
    store.write("audio_events", b"nothing heard", status="empty")
    store.write("speech_activity", b"speech, made from it")
    kept, _ = store.reusable()
    assert set(kept) == set(COMPONENTS) and kept["audio_events"].status == "empty"


def test_a_materialization_without_a_status_counts_as_an_error(store):
    store.instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=AssetKey("color_dynamics"),
            partition=KEY,
            metadata={
                "artifact_key": store.key("color_dynamics"),
                "sha256": store.sha["color_dynamics"],
                "fingerprint": "fp-color_dynamics",
                "input_sha256": MetadataValue.json({}),
            },
        )
    )
    kept, _ = store.reusable()
    assert "color_dynamics" not in kept and "cut_detection" in kept
    latest = Materialized.latest(store.instance, "color_dynamics", KEY)
    assert latest.status == "error"


def test_only_the_latest_materialization_counts(store):
    store.write("cut_detection", b"failed later", run_id="run2", status="error", error_code="X")
    assert "cut_detection" not in store.reusable()[0]
    store.write("cut_detection", b"fixed", run_id="run3")
    kept, _ = store.reusable()
    assert kept["cut_detection"].artifact_key == store.key("cut_detection", "run3")
    # color_dynamics was made from run1's cut_detection: no longer the one reused
    assert "color_dynamics" not in kept


def test_no_recorded_digest_is_not_reusable(store):
    store.write("audio_events", b"events", sha256="")
    kept, warnings = store.reusable()
    assert "audio_events" not in kept and warnings == []
    assert "speech_activity" not in kept  # made from an audio_events that is not reused


def test_a_changed_fingerprint_recomputes_that_component_and_its_dependants(store):
    store.fingerprints["cut_detection"] = "new"
    kept, warnings = store.reusable()
    assert set(kept) == {"segmenter", "audio_events", "speech_activity"} and warnings == []


def test_a_segmenter_of_another_source_reuses_nothing(store):
    kept, _ = store.reusable(source=sha(b"a replaced file"))
    assert kept == {}


def test_an_artifact_made_from_other_input_bytes_is_recomputed(store):
    store.write("cut_detection", b"cuts", input_sha256=MetadataValue.json({"segmenter": "0" * 64}))
    kept, _ = store.reusable()
    assert "cut_detection" not in kept and "color_dynamics" not in kept
    assert "speech_activity" in kept


def test_input_digests_recorded_as_json_text_are_read(store):
    text = json.dumps({"segmenter": store.sha["segmenter"]})
    store.write("cut_detection", b"cuts", input_sha256=text)
    assert Materialized.latest(store.instance, "cut_detection", KEY).input_sha256 == {
        "segmenter": store.sha["segmenter"]
    }


def test_an_optional_input_counts_only_when_the_profile_runs_it(store):
    # speech_activity records no audio_events digest (it ran without it) ...
    store.write(
        "speech_activity",
        b"speech",
        input_sha256=MetadataValue.json({"segmenter": store.sha["segmenter"]}),
    )
    without = profile_of(["segmenter", "speech_activity"])
    kept, _ = store.reusable(without)
    assert list(kept) == ["segmenter", "speech_activity"]
    # ... so where the profile runs audio_events, it was made without an input it has now
    kept, _ = store.reusable()
    assert "speech_activity" not in kept and "audio_events" in kept


def test_a_deleted_or_changed_artifact_is_named_and_recomputed(store):
    store.storage.delete(store.key("audio_events"))
    store.storage.put_bytes(store.key("cut_detection"), b"flipped")
    kept, warnings = store.reusable()
    assert list(kept) == ["segmenter"]
    # in catalogue order: cut_detection before audio_events
    assert warnings[1] == (
        f"audio_events of {KEY} is not reusable, recomputing: "
        f"{store.key('audio_events')}: missing from {store.storage.base}"
    )
    assert warnings[0].startswith(
        f"cut_detection of {KEY} is not reusable, recomputing: {store.key('cut_detection')}: sha256 "
    )
    assert len(warnings) == 2  # dependants are recomputed without a warning of their own


def test_a_segmenter_whose_stream_files_are_gone_is_recomputed(store):
    store.storage.delete(f"{FRAMES}/audio.wav")
    kept, warnings = store.reusable()
    assert kept == {}
    assert warnings == [
        f"segmenter of {KEY} is not reusable, recomputing: "
        f"{FRAMES}/audio.wav: missing from {store.storage.base}"
    ]


def test_a_segmenter_artifact_naming_no_frames_dir_is_recomputed(store):
    meta = ArtifactMeta(
        component="segmenter",
        component_version="1",
        dataprocessor_version="test",
        run_id="run2",
        platform="local",
        video_id="v",
        status="ok",
        config_hash="c",
    )
    store.write("segmenter", encode_artifact(Artifact(meta=meta)), run_id="run2")
    kept, warnings = store.reusable()
    assert kept == {}
    key = store.key("segmenter", "run2")
    assert warnings == [
        f"segmenter of {KEY} is not reusable, recomputing: "
        f"{key}: the segmenter's artifact names no frames_dir"
    ]


def test_no_materialization_is_nothing_to_reuse(store):
    assert Materialized.latest(store.instance, "ocr", KEY) is None
    assert Materialized.latest(store.instance, "segmenter", "local__other") is None


def test_the_fingerprint_follows_what_decides_the_output(store):
    specs = catalog()
    base = profile_of(["segmenter", "cut_detection"])
    cut = specs["cut_detection"]
    fingerprint = component_fingerprint(cut, base, None)
    assert len(fingerprint) == 16
    # how it runs, not what it computes: same fingerprint
    steady = profile_of(
        ["segmenter", "cut_detection"],
        cut_detection={"required": False, "retries": 5, "retry_backoff_s": 3, "batch_size": 4},
    )
    assert component_fingerprint(cut, steady, None) == fingerprint
    # its params, its model: another fingerprint
    params = profile_of(
        ["segmenter", "cut_detection"], cut_detection={"frame_budget": {"fps": 2.0}}
    )
    assert component_fingerprint(cut, params, None) != fingerprint
    model = {"models_used": [{"name": "m", "version": "1", "weights_digest": "a"}]}
    other = {"models_used": [{"name": "m", "version": "1", "weights_digest": "b"}]}
    assert component_fingerprint(cut, base, model) != fingerprint
    assert component_fingerprint(cut, base, model) != component_fingerprint(cut, base, other)
    engine = {
        "models_used": [{"name": "m", "version": "1", "weights_digest": "a", "engine": "trt"}]
    }
    assert component_fingerprint(cut, base, engine) != component_fingerprint(cut, base, model)
    # the analysis settings decide every stream: the segmenter's, not cut_detection's
    analysis = parse_profile(
        {
            "name": "rules",
            "analysis": {"fps": base.analysis.fps * 2},
            "components": {"segmenter": {}, "cut_detection": {}},
        }
    )
    seg = specs["segmenter"]
    assert component_fingerprint(seg, analysis, None) != component_fingerprint(seg, base, None)
    assert component_fingerprint(cut, analysis, None) == fingerprint
    # the component's own identity
    assert component_fingerprint(seg, base, None) != fingerprint


def test_a_segmenter_artifact_that_does_not_decode_is_never_reused_and_is_named(store):
    """Bytes that hash as recorded but are no artifact (a writer's fault): not reused, the
    key named in the warning, and recomputed (never a stopped run)."""
    store.write("segmenter", b"not an npz", run_id="run2")
    key = store.key("segmenter", "run2")
    kept, warnings = store.reusable()
    assert kept == {}
    assert any(key in w and "not a valid NPZ artifact" in w for w in warnings), warnings


def test_a_videos_checks_take_two_listings_and_no_head(store):
    """Both of the video's folders (result_store, frames_dir) are listed once: no object
    of it costs a HEAD (S3: one request per 1000 objects instead of one per object)."""
    verifier = ObjectVerifier(store.storage)
    kept = reusable(
        store.instance,
        KEY,
        profile_of(COMPONENTS),
        catalog(),
        store.fingerprints,
        verifier,
        SOURCE,
    )
    assert set(kept) == set(COMPONENTS)
    assert verifier.heads == 0


@pytest.mark.parametrize("field", ["name", "version", "weights_digest", "precision", "engine"])
def test_every_identity_field_of_a_model_is_in_the_fingerprint(field):
    spec, profile = catalog()["cut_detection"], profile_of(["segmenter", "cut_detection"])
    model = {"name": "m", "version": "1", "weights_digest": "a", "precision": "fp32"}
    model["engine"] = "onnxruntime"
    other = {**model, field: "changed"}
    assert component_fingerprint(spec, profile, {"models_used": [model]}) != (
        component_fingerprint(spec, profile, {"models_used": [other]})
    )


@pytest.mark.parametrize(
    "section",
    [
        {"analysis": {"fps": 4.0}},
        {"dense": {"max_fps": 12.0}},
        {"audio": {"model_sample_rate": 22050}},
        {"limits": {"frames_per_chunk": 128}},
    ],
)
def test_every_stream_setting_is_in_the_segmenters_fingerprint(section):
    spec = catalog()["segmenter"]
    components = {"segmenter": {}, "cut_detection": {}}
    base = parse_profile({"name": "rules", "components": components})
    changed = parse_profile({"name": "rules", "components": components, **section})
    assert component_fingerprint(spec, changed, None) != component_fingerprint(spec, base, None)
