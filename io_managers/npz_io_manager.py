"""NPZ IO manager over the storage resource, built for partition ranges.

A component step returns `{partition_key: Artifact}` for every video of the run; each is
written to `result_store/<platform>/<video>/<run>/<component>.npz`. Loading goes the other
way for the step's videos, each from the run that last materialized it (the key is in that
materialization's metadata), so a re-run of one component reads its inputs from earlier runs.
"""

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    ConfigurableIOManager,
    Failure,
    InputContext,
    OutputContext,
    ResourceDependency,
)

from dp_core.artifact import Artifact, decode_artifact, encode_artifact
from dp_core.errors import DpError, ErrorCode
from dp_core.storage_keys import artifact_key
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
                data = encode_artifact(obj[key])
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
        loaded = {}
        for key in context.asset_partition_keys:
            stored_key = latest_artifact_key(context.instance, asset_key, key)
            loaded[key] = decode_artifact(store.get_bytes(stored_key), source=stored_key)
        return loaded


def latest_artifact_key(instance, asset_key: AssetKey, partition_key: str) -> str:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition_key]), limit=1
    ).records
    if not records:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"{asset_key.to_user_string()} was never materialized for {partition_key}",
        )
    return records[0].asset_materialization.metadata["artifact_key"].value
