"""Dataset and training assets: feature_table -> training_dataset -> popularity_model ->
model_report; the jobs `build_dataset` (the first two), `train_popularity_model` (the last
two) and `rebuild_dataset` (all), and a daily schedule of the last.

feature_table depends on every component asset it reads (all partitions), so the UI's
lineage draws those edges. Not partitioned: each reads the whole result store through the
storage resource. The task (horizon H, prediction time T, split and row minimums) is the
profile's `dataset:` section (config `profile`, else DP_PROFILE, else cpu_baseline).
Outputs go
to storage under `<output_prefix>/` (default `datasets/`):
    <prefix>/features-<hash>/feature_table.parquet, columns.json
    <prefix>/<dataset_hash>/training_dataset.parquet, dataset.json
    <prefix>/<dataset_hash>/models/<target>[.metadata_only|.content_only].txt (+ .base.json:
        the persistence line boosting started from),
    <prefix>/<dataset_hash>/reproducibility.json
    <prefix>/<dataset_hash>/report.html, report.json
A downstream asset finds its input from the `storage_key` metadata of the upstream asset's
latest materialization.

Which run of a video: the LATEST FINISHED run, i.e. among the video's manifests the one with
the greatest `run.finished_at` (ties: the greater run id), whatever its status; its failed
components become NaN plus `<component>_error`, its skipped ones `<component>_missing`.
"""

import io
import json
import logging
import os

import lightgbm
import numpy as np
import pandas as pd
from dagster import (
    AllPartitionMapping,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    schedule,
)
from pydantic import Field

from dp_assets.components import feature_sets, load_profile
from dp_core.artifact import decode_artifact
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import canonical_json
from dp_core.manifest import Manifest
from dp_core.profile import DatasetSettings
from dp_features.dataset.assemble import (
    FEATURE_TABLE_META,
    DatasetOptions,
    assemble_dataset,
    bytes_hash,
    parquet_bytes,
)
from dp_features.dataset.embeddings import EMBEDDING_ARRAYS, pooled
from dp_features.dataset.evaluation import evaluate_models
from dp_features.dataset.feature_row import (
    ComponentInput,
    feature_columns,
    feature_row,
)
from dp_features.dataset.report import render_report_html, report_figures, report_json
from dp_features.dataset.targets import (
    TARGETS,
    TEMPORAL_DESCRIPTIONS,
    Targets,
    Task,
    apply_enrichment,
    read_snapshots,
    target_rows,
)
from dp_features.dataset.training import TrainedModel, reproducibility_manifest, train_model
from dp_resources.integrations.youtube import YouTubeDataClient
from dp_resources.storage.backends import Storage
from dp_resources.storage.resource import StorageResource

logger = logging.getLogger(__name__)

GROUP = "dataset"
REBUILD_JOB = "rebuild_dataset"
BUILD_JOB = "build_dataset"
TRAIN_JOB = "train_popularity_model"
SNAPSHOTS_ENV = "DP_SNAPSHOTS"
# the models popularity_model trains per target: all features, and the two baselines
MODEL_VARIANTS = {"model": "", "metadata_only": ".metadata_only", "content_only": ".content_only"}


# ---- reading the result store ------------------------------------------------------------


def latest_manifests(store: Storage) -> list[Manifest]:
    """One manifest per video: its latest finished run (see the module docstring)."""
    best: dict[str, Manifest] = {}
    for key in store.list("result_store"):
        if not key.endswith("/manifest.json"):
            continue
        try:
            manifest = Manifest.model_validate_json(store.get_bytes(key))
        except ValueError as exc:
            logger.warning("skipping unreadable manifest %s: %s", key, exc)
            continue
        if manifest.run.finished_at is None:
            continue
        video = manifest.video.partition_key
        rank = (manifest.run.finished_at, manifest.run.run_id)
        current = best.get(video)
        if current is None or rank > (current.run.finished_at, current.run.run_id):
            best[video] = manifest
    return [best[k] for k in sorted(best)]


def component_inputs(
    store: Storage, manifest: Manifest, pooled_embeddings: dict | None = None
) -> tuple[dict, dict]:
    """({component: ComponentInput}, {component: signature}) of one manifest's artifacts;
    the mean embedding of each real-model (never stand-in) embedding artifact goes into
    `pooled_embeddings[component]` when given."""
    inputs, signatures = {}, {}
    for record in manifest.components:
        if record.status == "skipped" or not record.artifact_key:
            continue
        try:
            artifact = decode_artifact(store.get_bytes(record.artifact_key), record.artifact_key)
        except (DpError, FileNotFoundError) as exc:
            logger.warning("artifact %s unreadable, counted as error: %s", record.artifact_key, exc)
            inputs[record.name] = ComponentInput("error", {})
            signatures[record.name] = {"status": "error", "unreadable": True}
            continue
        inputs[record.name] = ComponentInput(artifact.meta.status, artifact.arrays)
        signatures[record.name] = {
            "status": artifact.meta.status,
            "component_version": artifact.meta.component_version,
            "model_signature": artifact.meta.model_signature,
            "config_hash": artifact.meta.config_hash,
            "stand_in": any(m.stand_in for m in artifact.meta.models_used),
        }
        array = EMBEDDING_ARRAYS.get(record.name)
        real = bool(artifact.meta.models_used) and not signatures[record.name]["stand_in"]
        wanted = pooled_embeddings is not None and array in artifact.arrays
        if wanted and real and artifact.meta.status == "ok":
            vector = pooled(artifact.arrays[array])
            if vector is not None:
                pooled_embeddings[record.name] = vector
    return inputs, signatures


def build_feature_table(store: Storage, embeddings: list | None = None) -> pd.DataFrame:
    """FEATURE_TABLE_META + the specs' feature columns, one row per video, sorted by
    video_key. With `embeddings` (a list), each real-model embedding artifact's mean
    vector is appended to it as {video_key, component, vector}."""
    sets = feature_sets()
    names = [column.name for column in feature_columns(sets)]
    rows = []
    for manifest in latest_manifests(store):
        pooled_vectors: dict = {}
        inputs, signatures = component_inputs(store, manifest, pooled_vectors)
        for component, vector in sorted(pooled_vectors.items()):
            if embeddings is not None:
                embeddings.append(
                    {
                        "video_key": manifest.video.partition_key,
                        "component": component,
                        "vector": vector.astype(np.float32).tolist(),
                    }
                )
        rows.append(
            {
                "video_key": manifest.video.partition_key,
                "platform": manifest.video.platform,
                "video_id": manifest.video.video_id,
                "run_id": manifest.run.run_id,
                "config_hash": manifest.run.config_hash,
                "dataprocessor_version": manifest.run.dataprocessor_version,
                "artifact_signatures": canonical_json(signatures),
                **feature_row(inputs, sets),
            }
        )
    frame = pd.DataFrame(rows, columns=[*FEATURE_TABLE_META, *names])
    for column in FEATURE_TABLE_META:
        frame[column] = frame[column].astype("string")
    frame[names] = frame[names].astype("float64")
    return frame


def load_targets(snapshots_path: str, enrichment_recordings: str | None, task: Task) -> Targets:
    """Targets at H from snapshot files, enriched from recorded YouTube answers if given."""
    snapshots = read_snapshots(snapshots_path)
    if enrichment_recordings:
        client = YouTubeDataClient(mode="replay", recordings_dir=enrichment_recordings)
        videos, channels = client.enrichment_frames(sorted(snapshots["video_id"].unique()))
        snapshots = apply_enrichment(snapshots, videos, channels)
    return target_rows(snapshots, task)


def dataset_settings(profile: str, overrides: dict) -> DatasetSettings:
    """The profile's `dataset:` section (profile, else DP_PROFILE, else cpu_baseline) with
    the given fields replaced (None: keep)."""
    name = profile or os.environ.get("DP_PROFILE") or "cpu_baseline"
    settings = load_profile(name).dataset
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return DatasetSettings.model_validate({**settings.model_dump(), **given})
    except ValueError as exc:
        raise DpError(ErrorCode.CONFIG_INVALID, f"dataset settings: {exc}") from None


def rounded(value, digits: int = 4):
    """Metadata for the UI: floats rounded, NaN as None, containers walked."""
    if isinstance(value, float):
        return None if not np.isfinite(value) else round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value


def read_parquet(store: Storage, key: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(store.get_bytes(key)))


def upstream_key(context: AssetExecutionContext, asset_name: str) -> str:
    """`storage_key` of the latest materialization of an upstream dataset asset."""
    event = context.instance.get_latest_materialization_event(AssetKey(asset_name))
    if event is None or event.asset_materialization is None:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"{asset_name} was never materialized: build it first (`dp dataset build`)",
        )
    return str(event.asset_materialization.metadata["storage_key"].value)


def load_models(store: Storage, folder: str, description: dict) -> dict[str, dict]:
    """{target: {variant: TrainedModel}} as popularity_model wrote them."""
    groups = description["feature_groups"]
    columns = {
        "model": description["feature_columns"],
        "metadata_only": groups["metadata"],
        "content_only": groups["content"],
    }
    models: dict[str, dict] = {}
    for target in TARGETS:
        for variant, suffix in MODEL_VARIANTS.items():
            key = f"{folder}/models/{target}{suffix}.txt"
            if not store.exists(key):
                continue  # a variant without columns was not trained
            booster = lightgbm.Booster(model_str=store.get_bytes(key).decode())
            base_key = f"{folder}/models/{target}{suffix}.base.json"
            base = store.get_bytes(base_key).decode() if store.exists(base_key) else None
            models.setdefault(target, {})[variant] = TrainedModel(
                target, booster, columns[variant], base=TrainedModel.base_from_json(base)
            )
    return models


# ---- assets ------------------------------------------------------------------------------


class FeatureTableConfig(Config):
    output_prefix: str = Field(default="datasets", description="storage prefix for outputs")


class TrainingDatasetConfig(Config):
    snapshots_path: str = Field(
        default="",
        description="parquet/CSV snapshot file or folder; empty: the DP_SNAPSHOTS variable "
        "(README 'Snapshot files')",
    )
    profile: str = Field(
        default="", description="profile whose `dataset:` section applies [DP_PROFILE]"
    )
    horizon_hours: float | None = Field(default=None, description="target age H [profile]")
    prediction_hours: float | None = Field(default=None, description="prediction time T")
    split_time: str | None = Field(
        default=None, description="ISO upload time: test = uploads at/after it [a quantile]"
    )
    test_fraction: float | None = Field(default=None, description="share of channels in test")
    min_train_rows: int | None = Field(default=None, description="fewer train rows: refusal")
    min_test_rows: int | None = Field(default=None, description="fewer test rows: refusal")
    include_stand_in: bool | None = Field(
        default=None, description="keep the features of stand-in models [no]"
    )
    embedding_pca_components: int | None = Field(
        default=None, description="PCA columns per embedding of a real model [profile: 0]"
    )
    enrichment_recordings: str | None = Field(
        default=None, description="folder of recorded YouTube Data API answers (replay)"
    )
    output_prefix: str = "datasets"


class PopularityModelConfig(Config):
    num_boost_round: int = Field(default=1000, description="most rounds; early stopping picks")


def feature_table_deps(components: list[str]) -> list[AssetDep]:
    """Every partition of each component asset the feature table reads."""
    return [
        AssetDep(AssetKey(name), partition_mapping=AllPartitionMapping()) for name in components
    ]


def dataset_assets(components: list[str] | None = None) -> list[AssetsDefinition]:
    """The four dataset assets; feature_table depends on `components` (the profile's
    component assets; default: every catalogue component with feature columns)."""
    components = list(feature_sets()) if components is None else components

    @asset(
        name="feature_table",
        group_name=GROUP,
        deps=feature_table_deps(components),
        kinds={"pandas", "parquet"},
        description="One fixed-length feature row per video from the latest finished run's "
        "artifacts, with the artifact signatures (stand-in models marked) and config_hash.",
    )
    def feature_table(
        context: AssetExecutionContext, config: FeatureTableConfig, storage: StorageResource
    ) -> MaterializeResult:
        store = storage.get_storage()
        pooled_vectors: list = []
        frame = build_feature_table(store, pooled_vectors)
        if frame.empty:
            raise DpError(
                ErrorCode.INPUT_NOT_FOUND,
                f"no finished run in {store.base}/result_store: process videos first "
                "(`dp process`), or build the synthetic sample (`dp dataset sample`)",
            )
        data = parquet_bytes(frame)
        digest = bytes_hash(data)
        folder = f"{config.output_prefix}/features-{digest}"
        store.put_bytes(f"{folder}/feature_table.parquet", data)
        store.put_bytes(
            f"{folder}/columns.json", json.dumps(_column_descriptions(), indent=1).encode()
        )
        # mean embeddings of real models, for the optional PCA columns of training_dataset
        embeddings = pd.DataFrame(pooled_vectors, columns=["video_key", "component", "vector"])
        store.put_bytes(f"{folder}/embeddings.parquet", parquet_bytes(embeddings))
        missing = {
            c.removesuffix("_missing"): int(frame[c].sum())
            for c in frame.columns
            if c.endswith("_missing")
        }
        return MaterializeResult(
            metadata={
                "storage_key": f"{folder}/feature_table.parquet",
                "feature_table_hash": digest,
                "rows": len(frame),
                "feature_columns": len(feature_columns(feature_sets())),
                "videos_missing_component": MetadataValue.json(missing),
                "videos_with_embeddings": MetadataValue.json(
                    embeddings["component"].value_counts().sort_index().to_dict()
                ),
            }
        )

    @asset(
        name="training_dataset",
        group_name=GROUP,
        deps=[feature_table],
        kinds={"pandas", "parquet"},
        description="Feature table joined to views/likes at age H (profile dataset:), "
        "features known at T, split by upload time and channel with a gap of H, "
        "leak-checked; deterministic bytes and hash.",
    )
    def training_dataset(
        context: AssetExecutionContext, config: TrainingDatasetConfig, storage: StorageResource
    ) -> MaterializeResult:
        store = storage.get_storage()
        snapshots_path = config.snapshots_path or os.environ.get(SNAPSHOTS_ENV, "")
        if not snapshots_path:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                "training_dataset needs snapshot files: set the run config "
                "ops.training_dataset.config.snapshots_path, or the DP_SNAPSHOTS variable "
                "(`dp ui --snapshots PATH` sets it for the UI and the schedule)",
            )
        settings = dataset_settings(
            config.profile,
            {
                "horizon_hours": config.horizon_hours,
                "prediction_hours": config.prediction_hours,
                "test_fraction": config.test_fraction,
                "min_train_rows": config.min_train_rows,
                "min_test_rows": config.min_test_rows,
                "include_stand_in": config.include_stand_in,
                "embedding_pca_components": config.embedding_pca_components,
            },
        )
        task = Task.from_settings(settings)
        features_key = upstream_key(context, "feature_table")
        features = read_parquet(store, features_key)
        embeddings_key = features_key.rsplit("/", 1)[0] + "/embeddings.parquet"
        embeddings = (
            read_parquet(store, embeddings_key)
            if settings.embedding_pca_components and store.exists(embeddings_key)
            else None
        )
        targets = load_targets(snapshots_path, config.enrichment_recordings, task)
        dataset = assemble_dataset(
            features,
            targets,
            task,
            DatasetOptions.from_settings(settings, config.split_time),
            embeddings,
        )
        for warning in dataset.warnings:
            context.log.warning(warning)
        if dataset.correlations:
            context.log.warning(
                "features ranking videos nearly like a target (a warning, not a refusal; "
                "read them before trusting the model): "
                + ", ".join(f"{c.feature}~{c.target} {c.spearman}" for c in dataset.correlations)
            )
        data = parquet_bytes(dataset.frame)
        digest = bytes_hash(data)
        folder = f"{config.output_prefix}/{digest}"
        rows = {split: len(dataset.part(split)) for split in ("train", "validation", "test")}
        description = {
            "dataset_hash": digest,
            "task": task.describe(),
            "settings": settings.model_dump(),
            "feature_columns": dataset.feature_columns,
            "feature_groups": dataset.feature_groups,
            "feature_times": dataset.feature_times,
            "targets": list(TARGETS),
            "test_cut": dataset.test_cut.isoformat(),
            "validation_cut": dataset.validation_cut.isoformat(),
            "rows": rows,
            "dropped_by_split": dataset.dropped_by_split,
            "videos_without_target": dataset.dropped_targets,
            "videos_without_snapshots": dataset.unmatched_videos,
            "dropped_columns": dataset.dropped_columns,
            "warnings": dataset.warnings,
            "correlations": [c.__dict__ for c in dataset.correlations],
            "column_descriptions": {
                **_column_descriptions(),
                **TEMPORAL_DESCRIPTIONS,
                **dataset.embedding_descriptions,
            },
            "leakage_checks": "passed",
        }
        store.put_bytes(f"{folder}/training_dataset.parquet", data)
        store.put_bytes(f"{folder}/dataset.json", json.dumps(description, indent=1).encode())
        return MaterializeResult(
            metadata={
                "storage_key": f"{folder}/training_dataset.parquet",
                "dataset_hash": digest,
                "horizon_hours": rounded(task.describe()["horizon_hours"]),
                "prediction_hours": rounded(task.describe()["prediction_hours"]),
                "train_rows": rows["train"],
                "validation_rows": rows["validation"],
                "test_rows": rows["test"],
                "dropped_by_split": dataset.dropped_by_split,
                "videos_without_target": sum(len(v) for v in dataset.dropped_targets.values()),
                "videos_without_snapshots": len(dataset.unmatched_videos),
                "feature_columns": len(dataset.feature_columns),
                "dropped_columns": MetadataValue.json(dataset.dropped_columns),
                "warnings": MetadataValue.json(dataset.warnings),
                "correlations": MetadataValue.json(
                    [rounded(c.__dict__) for c in dataset.correlations]
                ),
                "test_cut": dataset.test_cut.isoformat(),
            }
        )

    @asset(
        name="popularity_model",
        group_name=GROUP,
        deps=[training_dataset],
        kinds={"lightgbm"},
        description="LightGBM per target on log1p(target at H), early-stopped on the "
        "validation split, plus metadata-only and content-only baselines; a "
        "reproducibility manifest (dataset hash, features, params, seeds, versions, git sha).",
    )
    def popularity_model(
        context: AssetExecutionContext, config: PopularityModelConfig, storage: StorageResource
    ) -> MaterializeResult:
        store = storage.get_storage()
        dataset_key = upstream_key(context, "training_dataset")
        folder = dataset_key.rsplit("/", 1)[0]
        description = json.loads(store.get_bytes(f"{folder}/dataset.json"))
        frame = read_parquet(store, dataset_key)
        train = frame[frame["split"] == "train"]
        validation = frame[frame["split"] == "validation"]
        groups = description["feature_groups"]
        columns = {
            "model": description["feature_columns"],
            "metadata_only": groups["metadata"],
            "content_only": groups["content"],
        }
        models = {}
        for target in TARGETS:
            for variant, suffix in MODEL_VARIANTS.items():
                if not columns[variant]:
                    continue
                model = train_model(
                    train,
                    columns[variant],
                    target,
                    num_boost_round=config.num_boost_round,
                    validation=validation,
                )
                store.put_bytes(f"{folder}/models/{target}{suffix}.txt", model.model_text.encode())
                if model.base is not None:  # the persistence line boosting started from
                    store.put_bytes(
                        f"{folder}/models/{target}{suffix}.base.json", model.base_json().encode()
                    )
                if variant == "model":
                    models[target] = model
        manifest = reproducibility_manifest(
            description["dataset_hash"], models, num_boost_round=config.num_boost_round
        )
        store.put_bytes(f"{folder}/reproducibility.json", json.dumps(manifest, indent=1).encode())
        return MaterializeResult(
            metadata={
                "storage_key": f"{folder}/reproducibility.json",
                "dataset_hash": description["dataset_hash"],
                "model_sha256": MetadataValue.json(manifest["model_sha256"]),
                "best_rounds": MetadataValue.json(manifest["best_rounds"]),
                "git_sha": manifest["git_sha"],
                "train_rows": len(train),
                "validation_rows": len(validation),
            }
        )

    @asset(
        name="model_report",
        group_name=GROUP,
        deps=[popularity_model],
        kinds={"html"},
        description="The task (H, T), Spearman, MAE, R², MAPE (SMP-Video) and bias on the "
        "held-out split against persistence, global mean, metadata-only and content-only "
        "baselines with channel-bootstrap ranges, and which baseline the model beats.",
    )
    def model_report(context: AssetExecutionContext, storage: StorageResource) -> MaterializeResult:
        store = storage.get_storage()
        folder = upstream_key(context, "popularity_model").rsplit("/", 1)[0]
        description = json.loads(store.get_bytes(f"{folder}/dataset.json"))
        frame = read_parquet(store, f"{folder}/training_dataset.parquet")
        development = frame[frame["split"] != "test"].reset_index(drop=True)
        test = frame[frame["split"] == "test"].reset_index(drop=True)
        models = load_models(store, folder, description)
        evaluation = evaluate_models(
            development, test, models, description["settings"]["bootstrap_samples"]
        )
        facts = {
            "dataset_hash": description["dataset_hash"],
            **description["task"],
            "rows": description["rows"],
            "test_cut (uploads at/after)": description["test_cut"],
            "dropped_by_split": description["dropped_by_split"],
            "videos_without_target": {
                k: len(v) for k, v in description["videos_without_target"].items()
            },
            "feature_columns": len(description["feature_columns"]),
            "dropped_columns": {k: len(v) for k, v in description["dropped_columns"].items()},
        }
        figures = report_figures(evaluation, facts, description)
        store.put_bytes(f"{folder}/report.html", render_report_html(figures).encode())
        store.put_bytes(f"{folder}/report.json", report_json(figures).encode())
        return MaterializeResult(
            metadata={
                "storage_key": f"{folder}/report.html",
                "report_json": f"{folder}/report.json",
                "dataset_hash": description["dataset_hash"],
                "metrics": MetadataValue.json(rounded(figures["metrics"])),
                "verdict": MetadataValue.md("\n".join(f"- {line}" for line in figures["verdict"])),
            }
        )

    return [feature_table, training_dataset, popularity_model, model_report]


DATASET_ASSETS = dataset_assets()
feature_table, training_dataset, popularity_model, model_report = DATASET_ASSETS
DATASET_KEYS = [a.key for a in DATASET_ASSETS]

build_dataset = define_asset_job(
    BUILD_JOB,
    selection=AssetSelection.assets(*DATASET_KEYS[:2]),
    description="Build the feature table and the leak-checked training dataset.",
)
train_popularity_model = define_asset_job(
    TRAIN_JOB,
    selection=AssetSelection.assets(*DATASET_KEYS[2:]),
    description="Train the popularity models on the latest training dataset; write the report.",
)
rebuild_dataset = define_asset_job(
    REBUILD_JOB,
    selection=AssetSelection.assets(*DATASET_KEYS),
    description="Rebuild the feature table, training dataset, models and report.",
)
DATASET_JOBS = [build_dataset, train_popularity_model, rebuild_dataset]


def schedule_run_config(snapshots: str) -> dict:
    return {"ops": {"training_dataset": {"config": {"snapshots_path": snapshots}}}}


@schedule(
    name="dataset_rebuild_schedule",
    job=rebuild_dataset,
    cron_schedule="0 4 * * *",  # daily, after the night's uploads
    default_status=DefaultScheduleStatus.STOPPED,
    description="Daily rebuild of the dataset, models and report (turn on in the UI). The "
    "snapshots come from DP_SNAPSHOTS (`dp ui --snapshots PATH`), written into each run's "
    "config; without it the tick is skipped and says so.",
)
def dataset_rebuild_schedule(context: ScheduleEvaluationContext):
    snapshots = os.environ.get(SNAPSHOTS_ENV, "")
    if not snapshots:
        return SkipReason(
            "DP_SNAPSHOTS is not set: start the UI with `dp ui --snapshots PATH` (or export "
            "DP_SNAPSHOTS) so the nightly rebuild knows the snapshot files"
        )
    return RunRequest(run_config=schedule_run_config(snapshots))


def _column_descriptions() -> dict[str, str]:
    """Feature column -> one-line description (units), from the component specs."""
    return {column.name: column.description for column in feature_columns(feature_sets())}
