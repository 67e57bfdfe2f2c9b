"""What the NPZ IO manager writes (io_managers/npz_io_manager.py): exactly the bytes a step
sealed (whose sha256 its materialization records), never a re-encoding; an artifact made
without sealing is encoded once; a video the step returned nothing for is an INTERNAL
error naming it. Dagster's public output context, a real folder storage."""

import gc
import hashlib

import numpy as np
import pytest
from dagster import AssetKey, Failure, build_output_context

from dp_core.artifact import Artifact, ArtifactMeta, decode_artifact, encode_artifact
from dp_core.errors import DpError, ErrorCode
from dp_core.storage_keys import artifact_key
from dp_resources.storage.resource import StorageResource
from io_managers.npz_io_manager import NpzIOManager

pytestmark = pytest.mark.integration
KEY = "local__v"


def artifact(value: int) -> Artifact:
    meta = ArtifactMeta(
        component="cut_detection",
        component_version="1",
        dataprocessor_version="test",
        run_id="r1",
        platform="local",
        video_id="v",
        status="ok",
        config_hash="c",
    )
    return Artifact(meta=meta, arrays={"x": np.full(3, value)})


@pytest.fixture
def manager(tmp_path):
    storage = StorageResource(base=str(tmp_path / "store"))
    yield NpzIOManager(storage=storage), storage.get_storage()
    gc.collect()  # the contexts' in-memory instances go here, not during a later test


def context():
    return build_output_context(asset_key=AssetKey("cut_detection"), partition_key=KEY, run_id="r1")


def test_the_sealed_bytes_are_written_as_they_are(manager):
    io, store = manager
    sealed = artifact(1)
    # bytes that differ from what encoding this artifact now would give: they, and only
    # they, are what the step's recorded sha256 is of
    sealed.encoded = encode_artifact(artifact(2))
    io.handle_output(context(), {KEY: sealed})
    written = store.get_bytes(artifact_key(KEY, "r1", "cut_detection"))
    assert hashlib.sha256(written).digest() == hashlib.sha256(sealed.encoded).digest()


def test_an_unsealed_artifact_is_encoded(manager):
    io, store = manager
    io.handle_output(context(), {KEY: artifact(3)})
    written = decode_artifact(store.get_bytes(artifact_key(KEY, "r1", "cut_detection")))
    np.testing.assert_array_equal(written.arrays["x"], [3, 3, 3])


def test_a_video_without_an_artifact_is_an_internal_error_naming_it(manager):
    io, store = manager
    with pytest.raises(DpError) as missing:
        io.handle_output(context(), {"local__other": artifact(1)})
    assert missing.value.code is ErrorCode.INTERNAL
    assert missing.value.message == "cut_detection returned no artifact for ['local__v']"
    assert list(store.list("result_store")) == []


def test_a_write_that_cannot_succeed_fails_the_step_once_with_its_error_code(manager):
    """A permanent storage error (here an unsafe key) is a Dagster Failure that says why,
    carries the error code and is not retried; a transient one would be raised for the
    step's RetryPolicy."""
    io, store = manager
    bad_run = build_output_context(
        asset_key=AssetKey("cut_detection"), partition_key=KEY, run_id="r 1"
    )
    with pytest.raises(Failure) as failed:
        io.handle_output(bad_run, {KEY: artifact(1)})
    assert failed.value.description == (
        "[CONFIG_INVALID] unsafe storage key 'result_store/local/v/r 1' (segment 'r 1')"
    )
    assert failed.value.metadata["error_code"].value == "CONFIG_INVALID"
    assert failed.value.allow_retries is False
    assert list(store.list("result_store")) == []
