"""Dagster shows a video that failed inside a batch run as failed, not green.

A range step materializes every partition of its range: a failed video is data (an
artifact with `status: error`), and Dagster 1.13 offers no public way for a step to mark
some partitions of its range failed (DECISIONS: "Failed partitions"). Even a step that
fails after writing its error artifacts (a required component's blocking check) leaves
those partitions green. So after a batch run, the videos whose components wrote an error
artifact get a follow-up run of the same job, tagged
`dp/failures_of_run`, that computes nothing: each selected step fails with the code its
partition's latest artifact records (dp_assets/factory.py). Dagster then shows those
partitions Failed (their latest attempt failed), the follow-up run is listed Failed on
the Runs page next to the batch run, and the batch run gets a `dp/videos_failed` tag.
The error artifacts stay the partitions' latest materializations: reuse never takes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetKey, DagsterInstance, JobDefinition

from dp_assets.factory import MARK_FAILED_TAG
from dp_assets.run_records import RANGE_END, RANGE_START
from dp_core.manifest import Manifest

VIDEOS_FAILED_TAG = "dp/videos_failed"


def failed_components(manifest: Manifest) -> list[str]:
    """Components of this video's run that ended in error (dependants of a failure too)."""
    return [
        c.name
        for c in manifest.components
        if c.status == "error" and c.artifact_key and not c.reused_from_run
    ]


def mark_failed_videos(
    instance: DagsterInstance,
    job: JobDefinition,
    run_id: str,
    manifests: Sequence[Manifest],
    tags: dict[str, str],
) -> list[str]:
    """Tag the batch run and mark its failed videos failed in Dagster; returns the ids of
    the follow-up runs (one per stretch of consecutive videos that failed alike)."""
    failed = [(m.video.partition_key, failed_components(m)) for m in manifests]
    count = sum(1 for _, names in failed if names)
    if not count:
        return []
    instance.add_run_tags(run_id, {VIDEOS_FAILED_TAG: f"{count} of {len(manifests)}"})
    stretches: list[tuple[list[str], list[str]]] = []
    for i, (key, names) in enumerate(failed):  # manifests come in the run's key order
        if not names:
            continue
        last = stretches[-1] if stretches else None
        if last and last[1] == names and failed[i - 1][0] == last[0][-1]:
            last[0].append(key)
        else:
            stretches.append(([key], names))
    runs = []
    for keys, names in stretches:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[AssetKey(name) for name in names],
            tags={**tags, MARK_FAILED_TAG: run_id, RANGE_START: keys[0], RANGE_END: keys[-1]},
            # the failures are expected and already reported: the run's status says it
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            raise_on_error=False,
        )
        runs.append(result.run_id)
    return runs
