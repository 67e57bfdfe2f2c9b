"""Dataset and training assets: feature_table -> training_dataset -> popularity_model ->
model_report, a job that rebuilds them and a daily schedule.

Not partitioned: each reads the whole result store through the storage resource. Outputs go
to storage under `<output_prefix>/` (default `datasets/`):
    <prefix>/features-<hash>/feature_table.parquet, columns.json
    <prefix>/<dataset_hash>/training_dataset.parquet, dataset.json
    <prefix>/<dataset_hash>/models/<target>.txt, reproducibility.json
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
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)
from pydantic import Field

from dp_assets.components import feature_sets
from dp_core.artifact import decode_artifact
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import canonical_json
from dp_core.manifest import Manifest
from dp_features.dataset.assemble import (
    FEATURE_TABLE_META,
    assemble_dataset,
    bytes_hash,
    parquet_bytes,
)
from dp_features.dataset.feature_row import (
    ComponentInput,
    feature_columns,
    feature_row,
)
from dp_features.dataset.metrics import evaluate
from dp_features.dataset.report import render_report_html, report_figures, report_json
from dp_features.dataset.targets import (
    TARGETS,
    TEMPORAL_DESCRIPTIONS,
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


def component_inputs(store: Storage, manifest: Manifest) -> tuple[dict, dict]:
    """({component: ComponentInput}, {component: signature}) of one manifest's artifacts."""
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
        }
    return inputs, signatures


def build_feature_table(store: Storage) -> pd.DataFrame:
    """FEATURE_TABLE_META + the specs' feature columns, one row per video, sorted by
    video_key."""
    sets = feature_sets()
    names = [column.name for column in feature_columns(sets)]
    rows = []
    for manifest in latest_manifests(store):
        inputs, signatures = component_inputs(store, manifest)
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


def load_targets(snapshots_path: str, enrichment_recordings: str | None) -> pd.DataFrame:
    """Target rows from snapshot files, enriched from recorded YouTube answers if given."""
    snapshots = read_snapshots(snapshots_path)
    if enrichment_recordings:
        client = YouTubeDataClient(mode="replay", recordings_dir=enrichment_recordings)
        videos, channels = client.enrichment_frames(sorted(snapshots["video_id"].unique()))
        snapshots = apply_enrichment(snapshots, videos, channels)
    return target_rows(snapshots)


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


def load_models(store: Storage, folder: str, features: list[str]) -> dict[str, TrainedModel]:
    return {
        target: TrainedModel(
            target,
            lightgbm.Booster(model_str=store.get_bytes(f"{folder}/models/{target}.txt").decode()),
            features,
        )
        for target in TARGETS
    }


# ---- assets ------------------------------------------------------------------------------


class FeatureTableConfig(Config):
    output_prefix: str = Field(default="datasets", description="storage prefix for outputs")


class TrainingDatasetConfig(Config):
    snapshots_path: str = Field(
        default="", description="parquet/CSV snapshot file or folder [env DP_SNAPSHOTS]"
    )
    split_time: str | None = Field(
        default=None, description="ISO time: test = targets at/after it [a quantile]"
    )
    test_fraction: float = Field(default=0.2, description="share of channels in test")
    use_prior_snapshots: bool = Field(
        default=True, description="use the snapshots before the target as features"
    )
    enrichment_recordings: str | None = Field(
        default=None, description="folder of recorded YouTube Data API answers (replay)"
    )
    output_prefix: str = "datasets"


class PopularityModelConfig(Config):
    num_boost_round: int = 300


@asset(
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    description="One fixed-length feature row per video from the latest finished run's "
    "artifacts, with the artifact signatures and config_hash it came from.",
)
def feature_table(
    context: AssetExecutionContext, config: FeatureTableConfig, storage: StorageResource
) -> MaterializeResult:
    store = storage.get_storage()
    frame = build_feature_table(store)
    if frame.empty:
        raise DpError(
            ErrorCode.INPUT_NOT_FOUND,
            f"no finished run in {store.base}/result_store: process videos first (`dp process`)",
        )
    data = parquet_bytes(frame)
    digest = bytes_hash(data)
    folder = f"{config.output_prefix}/features-{digest}"
    store.put_bytes(f"{folder}/feature_table.parquet", data)
    descriptions = {**_column_descriptions()}
    store.put_bytes(f"{folder}/columns.json", json.dumps(descriptions, indent=1).encode())
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
        }
    )


@asset(
    group_name=GROUP,
    deps=[feature_table],
    kinds={"pandas", "parquet"},
    description="Feature table joined to views/likes targets from snapshot files, split by "
    "time and channel, leakage-checked; deterministic bytes and hash.",
)
def training_dataset(
    context: AssetExecutionContext, config: TrainingDatasetConfig, storage: StorageResource
) -> MaterializeResult:
    store = storage.get_storage()
    snapshots_path = config.snapshots_path or os.environ.get("DP_SNAPSHOTS", "")
    if not snapshots_path:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            "training_dataset needs snapshot files: set config snapshots_path or DP_SNAPSHOTS",
        )
    features = read_parquet(store, upstream_key(context, "feature_table"))
    targets = load_targets(snapshots_path, config.enrichment_recordings)
    dataset = assemble_dataset(
        features, targets, config.split_time, config.test_fraction, config.use_prior_snapshots
    )
    data = parquet_bytes(dataset.frame)
    digest = bytes_hash(data)
    folder = f"{config.output_prefix}/{digest}"
    description = {
        "dataset_hash": digest,
        "feature_columns": dataset.feature_columns,
        "feature_times": dataset.feature_times,
        "targets": list(TARGETS),
        "split_time": dataset.split_time.isoformat(),
        "train_rows": len(dataset.train),
        "test_rows": len(dataset.test),
        "dropped_by_split": dataset.dropped_by_split,
        "videos_without_targets": dataset.unmatched_videos,
        "column_descriptions": {**_column_descriptions(), **TEMPORAL_DESCRIPTIONS},
        "leakage_checks": "passed",
    }
    store.put_bytes(f"{folder}/training_dataset.parquet", data)
    store.put_bytes(f"{folder}/dataset.json", json.dumps(description, indent=1).encode())
    return MaterializeResult(
        metadata={
            "storage_key": f"{folder}/training_dataset.parquet",
            "dataset_hash": digest,
            "train_rows": len(dataset.train),
            "test_rows": len(dataset.test),
            "dropped_by_split": dataset.dropped_by_split,
            "videos_without_targets": len(dataset.unmatched_videos),
            "split_time": dataset.split_time.isoformat(),
        }
    )


@asset(
    group_name=GROUP,
    deps=[training_dataset],
    kinds={"lightgbm"},
    description="LightGBM per target on log1p(target), fixed seeds, with a reproducibility "
    "manifest (dataset hash, features, params, seeds, library versions, git sha).",
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
    models = {
        target: train_model(
            train, description["feature_columns"], target, num_boost_round=config.num_boost_round
        )
        for target in TARGETS
    }
    for target, model in models.items():
        store.put_bytes(f"{folder}/models/{target}.txt", model.model_text.encode())
    manifest = reproducibility_manifest(
        description["dataset_hash"], models, num_boost_round=config.num_boost_round
    )
    store.put_bytes(f"{folder}/reproducibility.json", json.dumps(manifest, indent=1).encode())
    return MaterializeResult(
        metadata={
            "storage_key": f"{folder}/reproducibility.json",
            "dataset_hash": description["dataset_hash"],
            "model_sha256": MetadataValue.json(manifest["model_sha256"]),
            "git_sha": manifest["git_sha"],
            "train_rows": len(train),
        }
    )


@asset(
    group_name=GROUP,
    deps=[popularity_model],
    kinds={"html"},
    description="Spearman rho, MAE on log and R² on the held-out split against naive "
    "baselines (channel mean, age only), feature importance and plots: HTML + JSON.",
)
def model_report(context: AssetExecutionContext, storage: StorageResource) -> MaterializeResult:
    store = storage.get_storage()
    folder = upstream_key(context, "popularity_model").rsplit("/", 1)[0]
    description = json.loads(store.get_bytes(f"{folder}/dataset.json"))
    frame = read_parquet(store, f"{folder}/training_dataset.parquet")
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    models = load_models(store, folder, description["feature_columns"])
    metrics, importance, predictions = {}, {}, {}
    for target, model in models.items():
        predicted = model.predict_log(test)
        metrics[target] = evaluate(train, test, target, predicted)
        importance[target] = model.importance()
        predictions[target] = {
            "truth_log": list(np.log1p(test[target].to_numpy(np.float64))),
            "predicted_log": list(predicted),
        }
    facts = {
        key: description[key]
        for key in ("dataset_hash", "split_time", "train_rows", "test_rows", "dropped_by_split")
    }
    facts["feature_columns"] = len(description["feature_columns"])
    figures = report_figures(metrics, importance, predictions, facts)
    store.put_bytes(f"{folder}/report.html", render_report_html(figures).encode())
    store.put_bytes(f"{folder}/report.json", report_json(figures).encode())
    summary = {t: figures["metrics"][t]["model"] for t in figures["metrics"]}
    return MaterializeResult(
        metadata={
            "storage_key": f"{folder}/report.html",
            "report_json": f"{folder}/report.json",
            "dataset_hash": description["dataset_hash"],
            "metrics": MetadataValue.json(figures["metrics"]),
            "summary": MetadataValue.md(
                "\n".join(
                    f"- **{t}**: Spearman {m['spearman']}, MAE(log) {m['mae_log']}, R² {m['r2']}"
                    for t, m in summary.items()
                )
            ),
        }
    )


DATASET_ASSETS = [feature_table, training_dataset, popularity_model, model_report]

rebuild_dataset = define_asset_job(
    REBUILD_JOB,
    selection=AssetSelection.assets(*DATASET_ASSETS),
    description="Rebuild the feature table, training dataset, models and report.",
)

dataset_rebuild_schedule = ScheduleDefinition(
    name="dataset_rebuild_schedule",
    job=rebuild_dataset,
    cron_schedule="0 4 * * *",  # daily, after the night's uploads; snapshots from DP_SNAPSHOTS
    default_status=DefaultScheduleStatus.STOPPED,
    description="Daily rebuild of the dataset, models and report (turn on in the UI).",
)


def _column_descriptions() -> dict[str, str]:
    """Feature column -> one-line description (units), from the component specs."""
    return {column.name: column.description for column in feature_columns(feature_sets())}
