"""The one place that builds `Definitions`: assets of the profile, resources, job, sensors."""

import os
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    RunStatusSensorContext,
    define_asset_job,
    run_status_sensor,
)

from dp_assets.catalog import COMPONENT_ASSETS
from dp_assets.checks import status_check
from dp_assets.dataset import DATASET_ASSETS, dataset_rebuild_schedule, rebuild_dataset
from dp_assets.execution import executor_from_env, step_pool, with_pool
from dp_assets.run_records import finalize_run
from dp_assets.upload_sensor import build_upload_sensor
from dp_assets.uploads import upload_spec
from dp_core.errors import DpError, ErrorCode
from dp_core.profile import load_profile
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage.resource import StorageResource
from io_managers.npz_io_manager import NpzIOManager

PROCESS_JOB = "process_videos"
PROFILE_TAG = "dp/profile"
DEFAULT_HOME = Path(".dp")


@dataclass(frozen=True)
class Settings:
    storage_base: str
    profile: str = "cpu_baseline"

    @classmethod
    def from_env(cls) -> "Settings":
        base = os.environ.get("DP_STORAGE") or str(DEFAULT_HOME / "storage")
        if not base.startswith("s3://"):
            base = str(Path(base).expanduser().absolute())
        return cls(storage_base=base, profile=os.environ.get("DP_PROFILE", "cpu_baseline"))


def build_definitions(settings: Settings) -> Definitions:
    profile = load_profile(settings.profile)
    missing = [name for name in profile.component_order() if name not in COMPONENT_ASSETS]
    if missing:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"profile {profile.name}: components not implemented in this version: "
            f"{', '.join(missing)}",
        )
    storage = StorageResource(base=settings.storage_base)
    profile_resource = ProfileResource(profile=settings.profile)
    process_job = define_asset_job(
        PROCESS_JOB,
        selection=profile.component_order(),
        tags={PROFILE_TAG: settings.profile},
        description=f"Every component of profile {profile.name!r} for a batch of videos.",
        executor_def=executor_from_env(),  # DP_EXECUTOR: in_process (default) or celery
    )

    def finalize_finished_run(context: RunStatusSensorContext) -> None:
        run = context.dagster_run
        run_profile = load_profile(run.tags.get(PROFILE_TAG, settings.profile))
        finalize_run(context.instance, run.run_id, storage.get_storage(), run_profile)

    # Runs the daemon launched (UI, sensors) get their manifests from these; `dp process`
    # finalizes its own runs. Either way finalize_run never rewrites a manifest.
    manifest_sensors = [
        run_status_sensor(
            run_status=status,
            monitored_jobs=[process_job],
            default_status=DefaultSensorStatus.RUNNING,
            name=f"write_manifests_on_{status.value.lower()}",
        )(finalize_finished_run)
        for status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)
    ]

    return Definitions(
        assets=[
            upload_spec,
            *(
                with_pool(COMPONENT_ASSETS[n], step_pool(profile.components[n]))
                for n in profile.component_order()
            ),
            *DATASET_ASSETS,
        ],
        asset_checks=[
            status_check(name, spec.required) for name, spec in profile.components.items()
        ],
        jobs=[process_job, rebuild_dataset],
        schedules=[dataset_rebuild_schedule],
        sensors=[
            *manifest_sensors,
            build_upload_sensor(
                storage.get_storage(), PROCESS_JOB, {PROFILE_TAG: settings.profile}
            ),
        ],
        resources={
            "storage": storage,
            "profile": profile_resource,
            "npz_io_manager": NpzIOManager(storage=storage),
        },
    )


defs = build_definitions(Settings.from_env())
