"""The NPZ IO manager over a partition range: several videos in, several out, in one step,
and inputs found through the run that last materialized them."""

import numpy as np
import pytest
from dagster import AssetIn, BackfillPolicy, asset, materialize

from dp_assets.components import catalog, load_profile
from dp_assets.factory import component_asset
from dp_assets.resources import ProfileResource
from dp_assets.run_records import RANGE_END, RANGE_START
from dp_assets.uploads import prepare_upload, register_uploads
from dp_core.artifact import Artifact, decode_artifact
from dp_core.storage_keys import artifact_key
from dp_resources.models.resource import ModelResource
from dp_resources.storage.resource import StorageResource
from io_managers.npz_io_manager import NpzIOManager
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
segmenter = component_asset(catalog()["segmenter"], load_profile("cpu_baseline"))
SEEN_BATCHES: list[list[str]] = []


@asset(
    partitions_def=segmenter.partitions_def,
    backfill_policy=BackfillPolicy.single_run(),
    io_manager_key="npz_io_manager",
    ins={"segmenter": AssetIn()},
)
def dense_count(segmenter: dict[str, Artifact]) -> dict[str, Artifact]:
    """A stand-in downstream component: one number per video, from its segmenter artifact."""
    SEEN_BATCHES.append(sorted(segmenter))
    out = {}
    for key, upstream in segmenter.items():
        meta = upstream.meta.model_copy(update={"component": "dense_count"})
        out[key] = Artifact(meta, {"dense_frames": np.int64(len(upstream.arrays["dense_times_s"]))})
    return out


def test_range_in_one_step_and_inputs_from_an_earlier_run(tmp_path, dagster_instance):
    durations = {"a": 0.4, "b": 0.8, "c": 1.2}
    records = [
        prepare_upload(make_clip(tmp_path / f"{n}.mp4", ClipSpec(duration_s=d, audio=False)))
        for n, d in durations.items()
    ]
    register_uploads(dagster_instance, records)
    storage = StorageResource(base=str(tmp_path / "store"))
    resources = {
        "storage": storage,
        "profile": ProfileResource(),
        "models": ModelResource(),
        "npz_io_manager": NpzIOManager(storage=storage),
    }
    tags = {RANGE_START: "local__a", RANGE_END: "local__c"}
    SEEN_BATCHES.clear()
    first = materialize(
        [segmenter, dense_count], instance=dagster_instance, resources=resources, tags=tags
    )
    assert first.success and SEEN_BATCHES == [["local__a", "local__b", "local__c"]]
    store = storage.get_storage()
    for name, duration in durations.items():
        key = f"local__{name}"
        counted = decode_artifact(store.get_bytes(artifact_key(key, first.run_id, "dense_count")))
        assert int(counted.arrays["dense_frames"]) == round(duration * 25)  # each its own video

    # only the downstream asset, in a new run: inputs come from the first run's artifacts
    second = materialize(
        [segmenter, dense_count],
        selection=[dense_count],
        instance=dagster_instance,
        resources=resources,
        tags={RANGE_START: "local__b", RANGE_END: "local__c"},
    )
    assert second.success and SEEN_BATCHES[-1] == ["local__b", "local__c"]
    recount = decode_artifact(
        store.get_bytes(artifact_key("local__c", second.run_id, "dense_count"))
    )
    assert recount.meta.run_id == first.run_id  # meta copied from the first run's segmenter
    assert not store.exists(artifact_key("local__c", second.run_id, "segmenter"))
