"""NPZ IO manager over the storage resource, built for partition ranges.

A component step returns `{partition_key: Artifact}` for every video of the run, each sealed
with its bytes and their sha256 (recorded in the materialization's metadata); each is
written to `result_store/<platform>/<video>/<run>/<component>.npz`.

Loading goes the other way for the step's videos. The artifact an input reads is the one
THIS run materialized for that video; only when this run did not compute it (a re-run of one
component) is it the partition's latest materialization, and the reader's meta records which
(key, sha256, run). What is read must hash to the digest its writer recorded: a changed,
swapped or unreadable artifact becomes that video's INPUT_CORRUPT input naming the key,
never a silent read, never a transient retry, and the other videos go on.
"""

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    ConfigurableIOManager,
    DagsterEventType,
    DagsterInstance,
    Failure,
    InputContext,
    OutputContext,
    ResourceDependency,
)

from dp_core.artifact import (
    Artifact,
    ArtifactMeta,
    ArtifactRef,
    decode_artifact,
    encode_artifact,
    verify_digest,
)
from dp_core.errors import DpError, ErrorCode
from dp_core.storage_keys import artifact_key
from dp_core.version import dataprocessor_version
from dp_resources.storage.resource import StorageResource


class NpzIOManager(ConfigurableIOManager):
    storage: ResourceDependency[StorageResource]

    def handle_output(self, context: OutputContext, obj: dict[str, Artifact]) -> None:
        component = context.asset_key.path[-1]
        store = self.storage.get_storage()
        missing = set(context.asset_partition_keys) - set(obj)
        if missing:
            raise DpError(
                ErrorCode.INTERNAL, f"{component} returned no artifact for {sorted(missing)}"
            )
        try:
            for key in sorted(obj):
                artifact = obj[key]
                data = (
                    artifact.encoded if artifact.encoded is not None else encode_artifact(artifact)
                )
                store.put_bytes(artifact_key(key, context.run_id, component), data)
        except DpError as exc:
            if exc.transient:
                raise  # the step's RetryPolicy tries again
            raise Failure(
                str(exc), metadata={"error_code": exc.code.value}, allow_retries=False
            ) from exc

    def load_input(self, context: InputContext) -> dict[str, Artifact]:
        asset_key = context.asset_key
        store = self.storage.get_storage()
        run_id = context.step_context.run_id
        own = _materialized_in_run(context.instance, run_id, asset_key)
        loaded = {}
        for key in context.asset_partition_keys:
            ref = own.get(key) or latest_artifact_ref(context.instance, asset_key, key)
            try:
                data = verify_digest(store.get_bytes(ref.key), ref.sha256, ref.key)
                artifact = decode_artifact(data, source=ref.key)
            except DpError as exc:
                if exc.code is not ErrorCode.INPUT_CORRUPT:
                    raise  # storage unreachable: transient, the step is retried
                artifact = _unreadable(asset_key, key, ref, exc.message)
            artifact.ref = ref
            loaded[key] = artifact
        return loaded


def _ref(metadata, fallback_run_id: str) -> ArtifactRef:
    return ArtifactRef(
        key=metadata["artifact_key"].value,
        sha256=metadata["sha256"].value if "sha256" in metadata else "",
        run_id=fallback_run_id,
    )


def _materialized_in_run(
    instance: DagsterInstance, run_id: str, asset_key: AssetKey
) -> dict[str, ArtifactRef]:
    """{partition: ref} of `asset_key`'s materializations in run `run_id`."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    found = {}
    for record in records:
        materialization = record.event_log_entry.dagster_event.event_specific_data.materialization
        if materialization.asset_key == asset_key and "artifact_key" in materialization.metadata:
            found[materialization.partition] = _ref(materialization.metadata, run_id)
    return found


def latest_artifact_ref(instance, asset_key: AssetKey, partition_key: str) -> ArtifactRef:
    """The partition's latest materialization of `asset_key` (an input this run reuses)."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]), limit=1
    ).records
    if not records:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"{asset_key.to_user_string()} was never materialized for {partition_key}",
        )
    return _ref(records[0].asset_materialization.metadata, records[0].run_id)


def _unreadable(asset_key: AssetKey, partition_key: str, ref: ArtifactRef, why: str) -> Artifact:
    """A stand-in input for an artifact that cannot be trusted: the reading step fails that
    video with INPUT_CORRUPT naming the key (component_step), permanently."""
    meta = ArtifactMeta(
        component=asset_key.path[-1],
        component_version="",
        dataprocessor_version=dataprocessor_version(),
        run_id=ref.run_id,
        platform="",
        video_id=partition_key,
        status="error",
        error_code=ErrorCode.INPUT_CORRUPT,
        error_message=why,
        config_hash="",
        unreadable=True,
    )
    return Artifact(meta=meta)
