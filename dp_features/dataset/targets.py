"""Popularity targets (views, likes) from snapshot files, and the temporal features.

Snapshot files follow a Hugging Face dataset snapshot: parquet or CSV files (one file, or a
folder searched recursively, e.g. `data/train-00000-of-00001.parquet`), one row per
(video, snapshot time). Required columns: `video_id, snapshot_time, views, likes`.
Optional: `platform`, `channel_id`, `published_at`, and channel statistics as of the
snapshot (`channel_subscribers, channel_view_count, channel_video_count`).

Target rule: a video's target is its LATEST snapshot. Temporal features come only from
that snapshot's time and the snapshots strictly BEFORE it:
- `age_at_target_days` = target time - published_at;
- `prior_*` (views, likes, growth per day between the two snapshots before the target),
  stamped with `prior_snapshot_time`;
- channel statistics from the video's EARLIEST snapshot that has them (the least
  after-the-fact view of the channel), stamped with `channel_stats_as_of`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dp_core.errors import DpError, ErrorCode

TARGETS = ("views", "likes")
REQUIRED_COLUMNS = ("video_id", "snapshot_time", "views", "likes")
CHANNEL_STAT_COLUMNS = ("channel_subscribers", "channel_view_count", "channel_video_count")
OPTIONAL_COLUMNS = ("platform", "channel_id", "published_at", *CHANNEL_STAT_COLUMNS)

# Temporal feature column -> the column holding the time its information is from.
TEMPORAL_FEATURES: dict[str, str] = {
    "age_at_target_days": "target_time",
    "prior_snapshot_count": "prior_snapshot_time",
    "prior_age_days": "prior_snapshot_time",
    "prior_views_log1p": "prior_snapshot_time",
    "prior_likes_log1p": "prior_snapshot_time",
    "prior_views_growth_per_day": "prior_snapshot_time",
    "prior_likes_growth_per_day": "prior_snapshot_time",
    "channel_subscribers_log1p": "channel_stats_as_of",
    "channel_views_per_video_log1p": "channel_stats_as_of",
    "channel_video_count": "channel_stats_as_of",
}
PRIOR_FEATURES = tuple(n for n, t in TEMPORAL_FEATURES.items() if t == "prior_snapshot_time")
TEMPORAL_DESCRIPTIONS = {
    "age_at_target_days": "video age at the target snapshot, days",
    "prior_snapshot_count": "count of snapshots before the target snapshot",
    "prior_age_days": "video age at the last snapshot before the target, days",
    "prior_views_log1p": "log1p(views) at the last snapshot before the target",
    "prior_likes_log1p": "log1p(likes) at the last snapshot before the target",
    "prior_views_growth_per_day": "views/day between the two snapshots before the target",
    "prior_likes_growth_per_day": "likes/day between the two snapshots before the target",
    "channel_subscribers_log1p": "log1p(channel subscribers) at the video's first snapshot",
    "channel_views_per_video_log1p": "log1p(channel views / channel videos), first snapshot",
    "channel_video_count": "videos on the channel at the video's first snapshot",
}


def snapshot_files(path: str | Path) -> list[Path]:
    """The parquet/CSV files of a snapshot: `path` itself, or every one under a folder."""
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DpError(ErrorCode.INPUT_NOT_FOUND, f"snapshot path {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".parquet", ".csv") and p.is_file())
    if not files:
        raise DpError(ErrorCode.INPUT_NOT_FOUND, f"no .parquet or .csv snapshot files under {root}")
    return files


def read_snapshots(path: str | Path) -> pd.DataFrame:
    """Every snapshot row, validated: times as UTC, counts as int64, sorted, no duplicates."""
    frames = []
    for file in snapshot_files(path):
        try:
            frame = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)
        except (OSError, ValueError) as exc:
            raise DpError(
                ErrorCode.INPUT_CORRUPT, f"cannot read snapshot file {file}: {exc}"
            ) from exc
        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise DpError(
                ErrorCode.INPUT_CORRUPT,
                f"snapshot file {file} lacks column(s) {', '.join(missing)} "
                f"(needs {', '.join(REQUIRED_COLUMNS)})",
            )
        frames.append(frame[[c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in frame]])
    return normalise_snapshots(pd.concat(frames, ignore_index=True))


def normalise_snapshots(frame: pd.DataFrame) -> pd.DataFrame:
    """Types and order for a snapshot frame (from files or the enrichment client)."""
    frame = frame.copy()
    frame["video_id"] = frame["video_id"].astype(str)
    for column in ("snapshot_time", "published_at"):
        if column in frame:
            try:
                times = pd.to_datetime(frame[column], utc=True, format="ISO8601")
                frame[column] = times.dt.as_unit("ns")
            except (ValueError, TypeError) as exc:
                raise DpError(
                    ErrorCode.INPUT_CORRUPT, f"snapshot column {column!r}: {exc}"
                ) from exc
    if frame["snapshot_time"].isna().any():
        raise DpError(ErrorCode.INPUT_CORRUPT, "snapshot rows without a snapshot_time")
    for column in TARGETS:
        counts = pd.to_numeric(frame[column], errors="coerce")
        if counts.isna().any() or (counts < 0).any():
            bad = frame.loc[counts.isna() | (counts < 0), "video_id"].iloc[0]
            raise DpError(
                ErrorCode.INPUT_CORRUPT,
                f"snapshot column {column!r} needs non-negative counts (video {bad!r})",
            )
        frame[column] = counts.astype("int64")
    for column in CHANNEL_STAT_COLUMNS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("platform", "channel_id"):
        if column in frame:
            frame[column] = frame[column].astype("string")
    frame = frame.sort_values(["video_id", "snapshot_time"], kind="mergesort")
    frame = frame.drop_duplicates(["video_id", "snapshot_time"], keep="last")
    return frame.reset_index(drop=True)


def _per_day(delta: float, seconds: float) -> float:
    return delta / (seconds / 86400.0) if seconds > 0 else float("nan")


def target_rows(snapshots: pd.DataFrame) -> pd.DataFrame:
    """One row per video: its target (latest snapshot) and the temporal features.

    Columns: video_id, platform, channel_id, published_at, target_time, views, likes,
    prior_snapshot_time, channel_stats_as_of, and every TEMPORAL_FEATURES column.
    """
    rows = []
    for video_id, group in snapshots.groupby("video_id", sort=True):
        group = group.sort_values("snapshot_time", kind="mergesort")
        target = group.iloc[-1]
        prior = group.iloc[:-1]
        published = _first_valid(group, "published_at")
        row = {
            "video_id": video_id,
            "platform": _first_valid(group, "platform"),
            "channel_id": _first_valid(group, "channel_id"),
            "published_at": published,
            "target_time": target["snapshot_time"],
            "views": int(target["views"]),
            "likes": int(target["likes"]),
            "age_at_target_days": _days(target["snapshot_time"] - published),
            "prior_snapshot_count": float(len(prior)),
            "prior_snapshot_time": prior["snapshot_time"].iloc[-1] if len(prior) else pd.NaT,
        }
        row.update(_prior_features(prior, published))
        row.update(_channel_features(group))
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("published_at", "target_time", "prior_snapshot_time", "channel_stats_as_of"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("ns")
    for column in ("platform", "channel_id"):
        frame[column] = frame[column].astype("string")
    return frame


def _first_valid(group: pd.DataFrame, column: str):
    if column not in group:
        return pd.NaT if column == "published_at" else None
    values = group[column].dropna()
    if len(values):
        return values.iloc[0]
    return pd.NaT if column == "published_at" else None


def _days(delta) -> float:
    return float(delta / pd.Timedelta(days=1)) if pd.notna(delta) else float("nan")


def _prior_features(prior: pd.DataFrame, published) -> dict[str, float]:
    nan = float("nan")
    if prior.empty:
        return {name: nan for name in PRIOR_FEATURES if name != "prior_snapshot_count"}
    last = prior.iloc[-1]
    features = {
        "prior_age_days": _days(last["snapshot_time"] - published),
        "prior_views_log1p": float(np.log1p(last["views"])),
        "prior_likes_log1p": float(np.log1p(last["likes"])),
        "prior_views_growth_per_day": nan,
        "prior_likes_growth_per_day": nan,
    }
    if len(prior) >= 2:
        before = prior.iloc[-2]
        seconds = (last["snapshot_time"] - before["snapshot_time"]).total_seconds()
        for target in TARGETS:
            features[f"prior_{target}_growth_per_day"] = _per_day(
                float(last[target] - before[target]), seconds
            )
    return features


def _channel_features(group: pd.DataFrame) -> dict:
    nan = float("nan")
    empty = {
        "channel_stats_as_of": pd.NaT,
        "channel_subscribers_log1p": nan,
        "channel_views_per_video_log1p": nan,
        "channel_video_count": nan,
    }
    if not all(c in group for c in CHANNEL_STAT_COLUMNS):
        return empty
    known = group.dropna(subset=list(CHANNEL_STAT_COLUMNS), how="all")
    if known.empty:
        return empty
    first = known.iloc[0]
    videos = first["channel_video_count"]
    per_video = first["channel_view_count"] / videos if videos and videos > 0 else nan
    return {
        "channel_stats_as_of": first["snapshot_time"],
        "channel_subscribers_log1p": float(np.log1p(first["channel_subscribers"])),
        "channel_views_per_video_log1p": float(np.log1p(per_video)),
        "channel_video_count": float(videos),
    }


def apply_enrichment(
    snapshots: pd.DataFrame, videos: pd.DataFrame, channels: pd.DataFrame
) -> pd.DataFrame:
    """Merge YouTube Data API answers into the snapshots.

    `videos` (video_id, channel_id, published_at, views, likes, fetched_at) fills a missing
    channel_id / published_at and adds one snapshot per video at `fetched_at`;
    `channels` (channel_id, subscribers, view_count, video_count, fetched_at) adds channel
    statistics to that new snapshot, as of `fetched_at`.
    """
    if videos.empty:
        return snapshots
    merged = snapshots.copy()
    facts = videos.set_index("video_id")
    for column in ("channel_id", "published_at"):
        known = merged["video_id"].map(facts[column])
        merged[column] = merged[column].fillna(known) if column in merged else known
    new = videos.rename(columns={"fetched_at": "snapshot_time"})[
        ["video_id", "channel_id", "published_at", "snapshot_time", "views", "likes"]
    ].copy()
    if not channels.empty:
        stats = channels.set_index("channel_id")
        new["channel_subscribers"] = new["channel_id"].map(stats["subscribers"])
        new["channel_view_count"] = new["channel_id"].map(stats["view_count"])
        new["channel_video_count"] = new["channel_id"].map(stats["video_count"])
    return normalise_snapshots(pd.concat([merged, new], ignore_index=True))
