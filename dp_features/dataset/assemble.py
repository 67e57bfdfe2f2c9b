"""The training dataset: feature table + targets at H, split by upload time and channel
(train / validation / test), leak-checked, with its column choices listed.

Feature columns: the feature table's content columns (minus those of stand-in models,
unless asked for) and the temporal ("metadata") columns of targets.py; then columns that
are constant or all missing on the training rows are dropped, and listed.

Deterministic: rows sorted by split and `video_key`, a fixed column order, and parquet
written with fixed options, so the same inputs give the same bytes and `dataset_hash`.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes
from dp_features.dataset.embeddings import pca_features
from dp_features.dataset.leakage import (
    Correlation,
    LeakFinding,
    find_leaks,
    raise_on_leaks,
    strong_correlations,
)
from dp_features.dataset.split import time_split
from dp_features.dataset.targets import TARGETS, TEMPORAL_FEATURES, TIME_COLUMNS, Targets, Task

# Identity and provenance columns of the feature table (the rest are feature columns).
FEATURE_TABLE_META = (
    "video_key",
    "platform",
    "video_id",
    "run_id",
    "config_hash",
    "dataprocessor_version",
    "artifact_signatures",
)
DATASET_META = (
    "video_key",
    "platform",
    "video_id",
    "channel_id",
    "content_key",
    "split",
    *TIME_COLUMNS,
    "target_method",
    "target_source",
    "run_id",
    "config_hash",
    "artifact_signatures",
)
SPLITS = ("train", "validation", "test")


@dataclass
class DatasetOptions:
    """The profile's `dataset:` settings that shape the table (dp_core.profile)."""

    test_fraction: float = 0.2
    validation_fraction: float = 0.2
    min_train_rows: int = 50
    min_test_rows: int = 20
    include_stand_in: bool = False
    split_time: str | None = None
    embedding_pca_components: int = 0

    @classmethod
    def from_settings(cls, settings, split_time: str | None = None) -> DatasetOptions:
        return cls(
            settings.test_fraction,
            settings.validation_fraction,
            settings.min_train_rows,
            settings.min_test_rows,
            settings.include_stand_in,
            split_time,
            settings.embedding_pca_components,
        )


@dataclass
class TrainingDataset:
    frame: pd.DataFrame  # DATASET_META + feature_columns + TARGETS
    feature_columns: list[str]
    feature_groups: dict[str, list[str]]  # content | metadata -> its feature columns
    feature_times: dict[str, str]  # time-stamped feature -> its time column
    task: Task
    test_cut: pd.Timestamp
    validation_cut: pd.Timestamp
    dropped_by_split: int
    dropped_targets: dict[str, list[str]]  # reason -> video ids without a target
    dropped_columns: dict[str, list[str]]  # stand_in | constant | all_missing -> columns
    warnings: list[str] = field(default_factory=list)
    correlations: list[Correlation] = field(default_factory=list)
    unmatched_videos: list[str] = field(default_factory=list)  # features without targets
    embedding_descriptions: dict[str, str] = field(default_factory=dict)  # PCA columns

    def part(self, split: str) -> pd.DataFrame:
        return self.frame[self.frame["split"] == split].reset_index(drop=True)

    @property
    def train(self) -> pd.DataFrame:
        return self.part("train")

    @property
    def validation(self) -> pd.DataFrame:
        return self.part("validation")

    @property
    def test(self) -> pd.DataFrame:
        return self.part("test")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet bytes with fixed options (no index, zstd, one row group): same frame, same bytes."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=max(1, len(frame)))
    return buffer.getvalue()


def bytes_hash(data: bytes) -> str:
    """The first 16 hex digits of sha256: the name of a dataset under `datasets/`."""
    return sha256_bytes(data)[:16]


def join_targets(feature_table: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """Features joined to targets on video_id (and platform where the snapshots name one)."""
    features = (
        feature_table.copy()
        .drop(columns=["platform"])
        .assign(_platform=feature_table["platform"].astype("string"))
    )
    joined = features.merge(targets, on="video_id", how="inner", validate="many_to_one")
    named = joined["platform"].notna()
    joined = joined[~named | (joined["platform"] == joined["_platform"])]
    joined = joined.assign(platform=joined["_platform"]).drop(columns=["_platform"])
    if joined["video_key"].duplicated().any():
        raise DpError(ErrorCode.INPUT_CORRUPT, "a video has two feature rows")
    return joined.copy()  # one consolidated block per dtype


def content_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A key per row from its content feature values (a re-upload has the same artifacts,
    so the same row); None when the row has no content value at all."""
    values = frame[columns].to_numpy(np.float64) if columns else np.zeros((len(frame), 0))
    keys = []
    for row in values:
        if not np.isfinite(row).any():
            keys.append(None)
            continue
        rounded = np.where(np.isfinite(row), np.round(row, 9), np.nan)
        keys.append(sha256_bytes(rounded.tobytes())[:16])
    return pd.Series(keys, index=frame.index, dtype="string")


def stand_in_components(feature_table: pd.DataFrame) -> list[str]:
    """Components whose artifact, in any row, came from a stand-in (random-weight) model."""
    found = set()
    for text in feature_table["artifact_signatures"].dropna():
        for component, signature in json.loads(text).items():
            if signature.get("stand_in"):
                found.add(component)
    return sorted(found)


def assemble_dataset(
    feature_table: pd.DataFrame,
    targets: Targets,
    task: Task,
    options: DatasetOptions | None = None,
    embeddings: pd.DataFrame | None = None,
) -> TrainingDataset:
    """Join, split, check the rules (DpError CONFIG_INVALID naming each and its fix), add
    the PCA embedding columns (optional: `embeddings` of real models, fitted on train),
    drop uninformative columns, order the rows."""
    options = options or DatasetOptions()
    joined = join_targets(feature_table, targets.rows)
    unmatched = sorted(set(feature_table["video_key"]) - set(joined["video_key"]))
    table_features = [c for c in feature_table.columns if c not in FEATURE_TABLE_META]
    joined["content_key"] = content_keys(
        joined, [c for c in table_features if not c.endswith(("_missing", "_error"))]
    )
    stand_in = [] if options.include_stand_in else stand_in_components(feature_table)
    stand_in_columns = [c for c in table_features if any(c.startswith(f"{s}_") for s in stand_in)]
    content = [c for c in table_features if c not in stand_in_columns]
    metadata = list(TEMPORAL_FEATURES)

    test_split = time_split(joined, task.horizon, options.test_fraction, options.split_time)
    development, test = test_split.train, test_split.test
    if len(development) < options.min_train_rows or len(test) < options.min_test_rows:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"too few rows to train and judge a model: {len(development)} train (minimum "
            f"{options.min_train_rows}) and {len(test)} test (minimum {options.min_test_rows}) "
            f"of {len(joined)} videos with a target at H: add videos or snapshots, or lower "
            "dataset.min_train_rows / min_test_rows in the profile",
        )
    warnings = list(test_split.warnings)
    try:
        validation_split = time_split(
            development, task.horizon, options.validation_fraction, what="validation"
        )
    except DpError as exc:  # too little upload time left for a second gap of H
        validation_split = time_split(
            development, pd.Timedelta(0), options.validation_fraction, what="validation"
        )
        warnings.append(
            f"the validation split (early stopping only) has no gap of H: {exc.message}; "
            "the test split keeps its gap"
        )
    train, validation = validation_split.train, validation_split.test
    feature_times = dict(TEMPORAL_FEATURES)
    findings: list[LeakFinding] = find_leaks(
        development, test, [*content, *metadata], feature_times, TARGETS
    )
    raise_on_leaks(findings)

    embedding_descriptions: dict[str, str] = {}
    if embeddings is not None and not embeddings.empty and options.embedding_pca_components:
        pca, embedding_descriptions = pca_features(
            embeddings, list(train["video_key"]), options.embedding_pca_components
        )
        if not pca.empty:
            train, validation, test = (
                f.join(pca, on="video_key") for f in (train, validation, test)
            )
            content += list(pca.columns)
    all_missing = [c for c in (*content, *metadata) if train[c].isna().all()]
    constant = [
        c
        for c in (*content, *metadata)
        if c not in all_missing and train[c].dropna().nunique() <= 1 and not train[c].isna().any()
    ]
    dropped = set(all_missing) | set(constant)
    content = [c for c in content if c not in dropped]
    metadata = [c for c in metadata if c not in dropped]
    feature_columns = [*content, *metadata]
    frame = pd.concat(
        [
            train.assign(split="train"),
            validation.assign(split="validation"),
            test.assign(split="test"),
        ],
        ignore_index=True,
    )
    order = frame["split"].map({s: i for i, s in enumerate(SPLITS)})
    frame = frame.assign(_order=order).sort_values(["_order", "video_key"], kind="mergesort")
    frame = frame[[*DATASET_META, *feature_columns, *TARGETS]].reset_index(drop=True)
    frame[feature_columns] = frame[feature_columns].astype("float64")
    frame[list(TARGETS)] = frame[list(TARGETS)].astype("float64")
    frame = frame.copy()  # defragment: one block per dtype
    development = frame[frame["split"] != "test"]
    return TrainingDataset(
        frame=frame,
        feature_columns=feature_columns,
        feature_groups={"content": content, "metadata": metadata},
        feature_times={c: t for c, t in feature_times.items() if c in feature_columns},
        task=task,
        test_cut=test_split.cut,
        validation_cut=validation_split.cut,
        dropped_by_split=len(test_split.dropped) + len(validation_split.dropped),
        dropped_targets={k: v for k, v in targets.dropped.items() if v},
        dropped_columns={
            "stand_in": stand_in_columns,
            "constant": constant,
            "all_missing": all_missing,
        },
        warnings=warnings,
        correlations=strong_correlations(development, feature_columns, TARGETS),
        unmatched_videos=unmatched,
        embedding_descriptions=embedding_descriptions,
    )


def check_split(
    train: pd.DataFrame,
    test: pd.DataFrame,
    feature_columns: list[str],
    feature_times: dict[str, str],
) -> list[LeakFinding]:
    """Every leak rule over a train/test pair (see leakage.py)."""
    return find_leaks(train, test, feature_columns, feature_times, TARGETS)
