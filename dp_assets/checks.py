"""One status check per component: did each video of the run get a usable artifact?

A check runs once per step (a range of videos). It logs one evaluation per video, so
each partition's history shows its own result, then returns the step's overall result.
For a required component the check is blocking; it fails the step only when EVERY video
of the range failed, so one bad video never stops the others' downstream steps, and a
single-video run stops at once (SPEC: required fails → the run stops).
"""

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    asset_check,
)

CHECK_NAME = "artifact_status"


def _statuses(context: AssetCheckExecutionContext, asset_key: AssetKey) -> dict[str, dict]:
    """{partition: metadata} of this run's materializations of `asset_key`."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    found = {}
    for record in records:
        materialization = record.event_log_entry.dagster_event.event_specific_data.materialization
        if materialization.asset_key == asset_key:
            metadata = {k: v.value for k, v in materialization.metadata.items()}
            found[materialization.partition] = metadata
    return found


def status_check(component: str, required: bool) -> AssetChecksDefinition:
    asset_key = AssetKey(component)
    severity = AssetCheckSeverity.ERROR if required else AssetCheckSeverity.WARN

    @asset_check(
        asset=asset_key,
        name=CHECK_NAME,
        blocking=required,
        description=f"Every video's {component} artifact is ok or empty"
        + (" (required: blocks dependants)" if required else " (optional: warns)"),
    )
    def check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        statuses = _statuses(context, asset_key)
        failed = {k: m for k, m in statuses.items() if m.get("status") == "error"}
        for key, metadata in sorted(statuses.items()):
            context.op_execution_context.log_event(
                AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=CHECK_NAME,
                    passed=key not in failed,
                    severity=severity,
                    partition=key,
                    metadata={
                        "status": metadata.get("status", ""),
                        "error_code": metadata.get("error_code", ""),
                        "error": metadata.get("error", ""),
                    },
                )
            )
        return AssetCheckResult(
            passed=not statuses or len(failed) < len(statuses),
            severity=severity,
            metadata={
                "videos": len(statuses),
                "failed": len(failed),
                "failed_videos": ", ".join(sorted(failed)) or "none",
            },
        )

    return check
