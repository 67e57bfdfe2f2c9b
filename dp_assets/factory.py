"""One factory: a component's asset (with its status check) from its `ComponentSpec`.

Every component asset is the same shape: one partition per video, a batch of videos per
step (`BackfillPolicy.single_run`), NPZ artifacts through the IO manager, the spec's
inputs (and the optional inputs the profile has) as asset inputs, its Celery queue as an
op tag, the `gpu` pool where the profile runs it on CUDA, its code version, and one
`artifact_status` check that the step itself reports (one evaluation per video, then the
step's overall result; blocking for a required component).
"""

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetRecordsFilter,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    Failure,
    Output,
    RetryPolicy,
    asset,
)

from dp_assets.component_step import run_step
from dp_assets.freshness import component_fingerprint
from dp_assets.partitions import videos_partitions
from dp_assets.required_stop import failed_required_step, not_starting_message
from dp_assets.step_api import StepContext
from dp_assets.step_record import StepRecord
from dp_assets.uploads import upload_spec
from dp_core.artifact import Artifact
from dp_core.component_spec import ComponentSpec
from dp_core.profile import ComponentSettings, Profile
from dp_resources.models.registry import resolve_component

CHECK_NAME = "artifact_status"
# A run with this tag (its value: the run whose videos failed) computes nothing: each step
# fails with the error its partition's latest artifact records, so Dagster shows those
# partitions failed, not green (dp_assets/failure_marks.py).
MARK_FAILED_TAG = "dp/failures_of_run"
CELERY_QUEUE_TAG = "dagster-celery/queue"
GPU_POOL = "gpu"

# Per-video transient errors are retried inside the step (component_step); this retries
# the step when what fails is shared by the batch (e.g. storage while writing artifacts).
# Permanent errors there raise Failure(allow_retries=False) and are not retried.
STEP_RETRY = RetryPolicy(max_retries=2, delay=1.0, backoff=Backoff.EXPONENTIAL)


def step_pool(settings: ComponentSettings) -> str | None:
    """`gpu` for steps the profile runs on CUDA: the instance's `gpu` pool limit (see
    deploy/dagster.prod.yaml) caps how many of them hold the accelerator at once."""
    return GPU_POOL if settings.device == "cuda" else None


def fingerprint_of(spec: ComponentSpec, profile: Profile) -> str:
    """The component's fingerprint under `profile` (dp_assets/freshness.py), with the
    models it would load resolved from their files."""
    model = resolve_component(spec.name, profile, spec.model_family) if spec.model_family else None
    return component_fingerprint(spec, profile, model)


def component_asset(spec: ComponentSpec, profile: Profile) -> AssetsDefinition:
    """The asset of `spec` as `profile` runs it."""
    settings = profile.components[spec.name]
    fingerprint = fingerprint_of(spec, profile)
    optional = tuple(name for name in spec.optional_inputs if name in profile.components)
    severity = AssetCheckSeverity.ERROR if settings.required else AssetCheckSeverity.WARN
    required = frozenset(name for name, c in profile.components.items() if c.required)
    check = AssetCheckSpec(
        CHECK_NAME,
        asset=spec.name,
        blocking=settings.required,
        description=f"Every video's {spec.name} artifact is ok or empty"
        + (" (required: blocks dependants)" if settings.required else " (optional: warns)"),
    )

    @asset(
        name=spec.name,
        partitions_def=videos_partitions,
        backfill_policy=BackfillPolicy.single_run(),
        io_manager_key="npz_io_manager",
        ins={name: AssetIn() for name in (*spec.inputs, *optional)},
        deps=[] if spec.inputs else [upload_spec],
        group_name=spec.group,
        description=spec.description,
        retry_policy=STEP_RETRY,
        op_tags={CELERY_QUEUE_TAG: spec.queue},
        pool=step_pool(settings),
        code_version=fingerprint,  # Dagster shows stale partitions when it changes
        check_specs=[check],
        kinds=set(spec.kinds) or None,
        required_resource_keys={"storage", "profile", "models"},
        output_required=False,  # not output when a required step failed: dependants skip
    )
    def component(context: AssetExecutionContext, **inputs: dict[str, Artifact]):
        if MARK_FAILED_TAG in context.run.tags:
            raise recorded_failure(context, spec.name)
        failed = failed_required_step(context.instance, context.run.run_id, required)
        if failed is not None:
            message = not_starting_message(spec.name, failed)
            context.log.warning(message)
            yield AssetCheckResult(
                check_name=CHECK_NAME,
                passed=False,
                severity=AssetCheckSeverity.WARN,
                metadata={"not_run": message},
            )
            return
        resources = context.resources
        step = StepContext(
            spec=spec,
            profile=resources.profile.load(),
            run_id=context.run.run_id,
            storage=resources.storage.get_storage(),
            models=resources.models,
            log=context.log,
            fingerprint=fingerprint,
        )
        artifacts = run_step(
            context,
            step,
            spec.step(step),
            {name: inputs[name] for name in spec.inputs},
            {name: inputs[name] for name in optional},
        )
        yield Output(artifacts)
        yield _status_result(context, spec.name, artifacts, severity)

    return component


def recorded_failure(context: AssetExecutionContext, component: str) -> Failure:
    """The step's failure in a mark-failed run: each video's recorded code and error."""
    reasons = []
    for key in sorted(context.partition_keys):
        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(component), asset_partitions=[key]), limit=1
        ).records
        record = StepRecord.from_metadata(records[0].asset_materialization.metadata)
        reasons.append(f"{key}: [{record.error_code}] {record.error}")
    return Failure(
        description=f"{component} failed in run {context.run.tags[MARK_FAILED_TAG]}: "
        + "; ".join(reasons),
        metadata={"failed_in_run": context.run.tags[MARK_FAILED_TAG]},
        allow_retries=False,
    )


def _status_result(
    context: AssetExecutionContext,
    component: str,
    artifacts: dict[str, Artifact],
    severity: AssetCheckSeverity,
) -> AssetCheckResult:
    """One check evaluation per video (its partition's history), then the step's result:
    it fails only when EVERY video failed, so one bad video never stops the others'
    downstream steps, and a single-video run stops at once (SPEC: required fails → stop)."""
    failed = sorted(key for key, a in artifacts.items() if a.meta.status == "error")
    for key, artifact in sorted(artifacts.items()):
        context.log_event(
            AssetCheckEvaluation(
                asset_key=AssetKey(component),
                check_name=CHECK_NAME,
                passed=key not in failed,
                severity=severity,
                partition=key,
                metadata=StepRecord.of_artifact(artifact, "").check_metadata(),
            )
        )
    return AssetCheckResult(
        check_name=CHECK_NAME,
        passed=not artifacts or len(failed) < len(artifacts),
        severity=severity,
        metadata={
            "videos": len(artifacts),
            "failed": len(failed),
            "failed_videos": ", ".join(failed) or "none",
        },
    )
