"""The one place that builds `Definitions`: the profile's component assets (generated from
the specs), resources, the process job, sensors and the dataset assets.

`build_definitions(settings)` is what `dp process` calls with the settings it was given;
`defs` is the lazily built code location for `dagster dev`, the daemon and the workers,
configured from the environment it is loaded in (read, never written). Secrets and
service addresses are passed as `EnvVar`s, resolved by Dagster where a step runs.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    EnvVar,
    JobDefinition,
    RunStatusSensorContext,
    define_asset_job,
    definitions,
    run_status_sensor,
)

from dp_assets.components import catalog, load_profile
from dp_assets.dataset import DATASET_JOBS, dataset_assets, dataset_rebuild_schedule
from dp_assets.execution import executor_from_env
from dp_assets.factory import MARK_FAILED_TAG, component_asset
from dp_assets.resources import ProfileResource
from dp_assets.retention import event_log_retention_job, event_log_retention_schedule
from dp_assets.run_records import finalize_run
from dp_assets.upload_sensor import build_upload_sensor
from dp_assets.uploads import upload_spec
from dp_core.hashing import sha256_bytes
from dp_resources.models.resource import ModelResource
from dp_resources.storage.resource import StorageResource
from io_managers.npz_io_manager import NpzIOManager

PROCESS_JOB = "process_videos"
PROFILE_TAG = "dp/profile"
DEFAULT_HOME = Path(".dp")
SETTINGS_OF_RECORD = "dp_settings.json"


def recorded_settings(home: str | None) -> dict:
    """The settings the last `dp process` on Dagster home `home` ran with ({} if none)."""
    path = Path(home) / SETTINGS_OF_RECORD if home else None
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}


@dataclass(frozen=True)
class Settings:
    """What a code location is built for: the storage base and the profile."""

    storage_base: str
    profile: str = "cpu_baseline"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """`DP_STORAGE` and `DP_PROFILE`; where unset, what the last `dp process` on this
        Dagster home ran with (so the UI shows the code versions the runs used); else
        `.dp/storage` and cpu_baseline."""
        env = os.environ if env is None else env
        recorded = recorded_settings(env.get("DAGSTER_HOME"))
        return cls.of(
            env.get("DP_STORAGE") or recorded.get("storage_base"),
            env.get("DP_PROFILE") or recorded.get("profile") or "cpu_baseline",
        )

    def record(self, home: str | Path) -> None:
        """Make these the home's settings of record (read by `from_env`)."""
        profile = self.profile
        if Path(profile).suffix in (".yaml", ".yml") and Path(profile).exists():
            profile = str(Path(profile).absolute())
        data = json.dumps({"storage_base": self.storage_base, "profile": profile})
        target = Path(home) / SETTINGS_OF_RECORD
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(data)
        temporary.replace(target)  # atomic: a reader sees the old or the new settings

    @classmethod
    def of(cls, storage: str | None, profile: str) -> Settings:
        base = storage or str(DEFAULT_HOME / "storage")
        if not base.startswith("s3://"):
            base = str(Path(base).expanduser().absolute())
        return cls(storage_base=base, profile=profile)


def _env_var(name: str, default=None):
    """`EnvVar(name)` where the variable is set (Dagster resolves it where the step runs
    and never shows its value), else `default`."""
    return EnvVar(name) if os.environ.get(name) else default


def storage_resource(base: str) -> StorageResource:
    return StorageResource(
        base=base,
        s3_endpoint_url=_env_var("DP_S3_ENDPOINT_URL"),
        s3_access_key=_env_var("DP_S3_ACCESS_KEY"),
        s3_secret_key=_env_var("DP_S3_SECRET_KEY"),
    )


def model_resource() -> ModelResource:
    defaults = ModelResource()
    timeout = os.environ.get("DP_TRITON_TIMEOUT_S")
    return ModelResource(
        triton_url=_env_var("DP_TRITON_URL", defaults.triton_url),
        triton_protocol=_env_var("DP_TRITON_PROTOCOL", defaults.triton_protocol),
        triton_timeout_s=float(timeout) if timeout else defaults.triton_timeout_s,
    )


def build_definitions(settings: Settings) -> Definitions:
    profile = load_profile(settings.profile)
    specs = catalog()
    storage = storage_resource(settings.storage_base)
    process_job = define_asset_job(
        PROCESS_JOB,
        selection=profile.component_order(),
        tags={PROFILE_TAG: settings.profile},
        description=f"Every component of profile {profile.name!r} for a batch of videos.",
        # DP_EXECUTOR: multiprocess (default), in_process or celery
        executor_def=executor_from_env(steps_at_once=profile.batching.steps_at_once),
    )

    def finalize_finished_run(context: RunStatusSensorContext, storage: StorageResource) -> None:
        run = context.dagster_run
        if MARK_FAILED_TAG in run.tags:  # computes nothing: no manifest of its own
            return
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
            *(component_asset(specs[name], profile) for name in profile.component_order()),
            # the feature table depends on the profile's component assets: lineage edges
            *dataset_assets(profile.component_order()),
        ],
        jobs=[process_job, *DATASET_JOBS, event_log_retention_job],
        schedules=[dataset_rebuild_schedule, event_log_retention_schedule],
        sensors=[
            *manifest_sensors,
            # through the planner: services answer, leases, reuse (dp_assets/planning.py)
            build_upload_sensor(PROCESS_JOB, {PROFILE_TAG: settings.profile}, profile=profile),
        ],
        resources={
            "storage": storage,
            "profile": ProfileResource.of(settings.profile, profile),
            "models": model_resource(),
            "npz_io_manager": NpzIOManager(storage=storage),
        },
    )


def process_job(storage_base: str, profile: str) -> JobDefinition:
    """The process job of `Settings(storage_base, profile)`: what `dp process` hands to the
    Celery workers as a reconstructable job (`build_reconstructable_job`), so a worker runs
    exactly the settings `dp process` was given, whatever its own DP_STORAGE/DP_PROFILE."""
    return _process_job(storage_base, profile, _profile_content(profile))


def _profile_content(profile: str) -> str:
    """What the cached job depends on: a profile file's bytes (it may be rewritten between
    runs of one process), or a bundled profile's name."""
    path = Path(profile)
    return sha256_bytes(path.read_bytes()) if path.is_file() else profile


@functools.lru_cache(maxsize=4)  # a worker rebuilds it for every step it runs
def _process_job(storage_base: str, profile: str, content: str) -> JobDefinition:
    return build_definitions(Settings(storage_base, profile)).resolve_job_def(PROCESS_JOB)


@definitions
def defs() -> Definitions:
    """The code location `dagster dev`, the daemon and the workers load (workspace.yaml)."""
    return build_definitions(Settings.from_env())
