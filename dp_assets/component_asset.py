"""The decorator every component asset uses: one partition per video, a batch of videos
per step, NPZ artifacts, and step retries for transient failures."""

from dagster import AssetIn, BackfillPolicy, Backoff, RetryPolicy, asset

from dp_assets.execution import step_op_tags
from dp_assets.partitions import videos_partitions

# Per-video transient errors are retried inside the step (component_step); this retries
# the step when what fails is shared by the batch (e.g. storage while writing artifacts).
# Permanent errors there raise Failure(allow_retries=False) and are not retried.
STEP_RETRY = RetryPolicy(max_retries=2, delay=1.0, backoff=Backoff.EXPONENTIAL)


def component_asset(name: str, group: str, description: str, reads: tuple[str, ...] = (), **kw):
    """`@asset` for component `name` reading the components in `reads` (as inputs).
    Its op tag names its Celery queue (model components: `gpu`, others: `cpu`)."""
    return asset(
        name=name,
        partitions_def=videos_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        io_manager_key="npz_io_manager",
        ins={upstream: AssetIn() for upstream in reads},
        group_name=group,
        description=description,
        retry_policy=STEP_RETRY,
        op_tags=step_op_tags(name),
        **kw,
    )
