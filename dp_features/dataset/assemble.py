"""The training dataset: feature table + targets, split by time and channel, leakage-checked.

Deterministic: rows sorted by `video_key`, a fixed column order, and parquet written with
fixed options, so the same inputs give the same bytes and so the same `dataset_hash`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes
from dp_features.dataset.leakage import LeakFinding, find_leaks, raise_on_leaks
from dp_features.dataset.split import time_split
from dp_features.dataset.targets import PRIOR_FEATURES, TARGETS, TEMPORAL_FEATURES

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
    "split",
    "published_at",
    "target_time",
    "prior_snapshot_time",
    "channel_stats_as_of",
    "run_id",
    "config_hash",
    "artifact_signatures",
)


@dataclass
class TrainingDataset:
    frame: pd.DataFrame  # DATASET_META + feature_columns + TARGETS, train then test rows
    feature_columns: list[str]
    feature_times: dict[str, str]  # time-stamped feature -> its time column
    split_time: pd.Timestamp
    dropped_by_split: int
    unmatched_videos: list[str] = field(default_factory=list)  # features without targets

    @property
    def train(self) -> pd.DataFrame:
        return self.frame[self.frame["split"] == "train"].reset_index(drop=True)

    @property
    def test(self) -> pd.DataFrame:
        return self.frame[self.frame["split"] == "test"].reset_index(drop=True)


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
    features = feature_table.drop(columns=["platform"]).assign(
        _platform=feature_table["platform"].astype("string")
    )
    joined = features.merge(targets, on="video_id", how="inner", validate="many_to_one")
    named = joined["platform"].notna()
    joined = joined[~named | (joined["platform"] == joined["_platform"])]
    joined = joined.assign(platform=joined["_platform"]).drop(columns=["_platform"])
    if joined["video_key"].duplicated().any():
        raise DpError(ErrorCode.INPUT_CORRUPT, "a video has two feature rows")
    return joined.copy()  # one consolidated block per dtype


def assemble_dataset(
    feature_table: pd.DataFrame,
    targets: pd.DataFrame,
    split_time: str | None = None,
    test_fraction: float = 0.2,
    use_prior_snapshots: bool = True,
) -> TrainingDataset:
    """Join, split, check for leaks (DpError CONFIG_INVALID naming each), order the rows."""
    joined = join_targets(feature_table, targets)
    unmatched = sorted(set(feature_table["video_key"]) - set(joined["video_key"]))
    temporal = [c for c in TEMPORAL_FEATURES if use_prior_snapshots or c not in PRIOR_FEATURES]
    table_features = [c for c in feature_table.columns if c not in FEATURE_TABLE_META]
    feature_columns = [*table_features, *temporal]
    feature_times = {c: TEMPORAL_FEATURES[c] for c in temporal}
    split = time_split(joined, split_time, test_fraction)
    findings = check_split(split.train, split.test, feature_columns, feature_times)
    raise_on_leaks(findings)
    frame = pd.concat(
        [split.train.assign(split="train"), split.test.assign(split="test")], ignore_index=True
    )
    frame = frame.sort_values(["split", "video_key"], ascending=[False, True], kind="mergesort")
    frame = frame[[*DATASET_META, *feature_columns, *TARGETS]].reset_index(drop=True)
    frame[feature_columns] = frame[feature_columns].astype("float64")
    frame = frame.copy()  # defragment: one block per dtype
    return TrainingDataset(
        frame=frame,
        feature_columns=feature_columns,
        feature_times=feature_times,
        split_time=split.split_time,
        dropped_by_split=len(split.dropped),
        unmatched_videos=unmatched,
    )


def check_split(
    train: pd.DataFrame,
    test: pd.DataFrame,
    feature_columns: list[str],
    feature_times: dict[str, str],
) -> list[LeakFinding]:
    """Every leakage check of a train/test pair (see leakage.py)."""
    return find_leaks(train, test, feature_columns, feature_times, TARGETS)
