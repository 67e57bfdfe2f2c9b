"""Popularity targets (views, likes at a fixed age H) from snapshot files, and the features
known at the prediction time T < H.

Snapshot files follow a Hugging Face dataset snapshot: parquet or CSV files (one file, or a
folder searched recursively, e.g. `data/train-00000-of-00001.parquet`), one row per
(video, snapshot time). Required columns: `video_id, snapshot_time, views, likes`
(`likes` may be empty: hidden like counts stay missing, never 0). Optional: `platform`,
`channel_id`, `published_at` (needed: a video without it has no age and is dropped),
channel statistics as of the snapshot (`channel_subscribers, channel_view_count,
channel_video_count`) and `source` (`crawl`, the default, or `enrichment`).

The task (profile `dataset:` section, `Task` below):
- target = views / likes at age H after publish: linear in time between the last snapshot
  at age <= H and the first at age >= H, both within the tolerance of H; without such a
  pair, the snapshot nearest to H within the tolerance; without one, the video is dropped.
  Only `crawl` snapshots can be a target: an enrichment snapshot (fetched once, at any
  age) never is.
- prediction time T = published_at + prediction_hours. Every feature comes from data
  stamped at or before T, and says when (its time column, TEMPORAL_FEATURES):
  `prior_*` from the snapshots at age <= T; channel statistics from the last snapshot at or
  before T, minus the video's own views; the channel's history from its OTHER videos whose
  targets were observed by T; publish hour / weekday from `published_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dp_core.errors import DpError, ErrorCode

TARGETS = ("views", "likes")
REQUIRED_COLUMNS = ("video_id", "snapshot_time", "views", "likes")
CHANNEL_STAT_COLUMNS = ("channel_subscribers", "channel_view_count", "channel_video_count")
OPTIONAL_COLUMNS = ("platform", "channel_id", "published_at", *CHANNEL_STAT_COLUMNS, "source")
CRAWL, ENRICHMENT = "crawl", "enrichment"

# Temporal feature column -> the column holding the time its information is from.
TEMPORAL_FEATURES: dict[str, str] = {
    "publish_hour_utc": "published_at",
    "publish_weekday": "published_at",
    "prior_snapshot_count": "prior_snapshot_time",
    "prior_age_days": "prior_snapshot_time",
    "prior_views_log1p": "prior_snapshot_time",
    "prior_likes_log1p": "prior_snapshot_time",
    "prior_views_growth_per_day": "prior_snapshot_time",
    "prior_likes_growth_per_day": "prior_snapshot_time",
    "channel_subscribers_log1p": "channel_stats_as_of",
    "channel_views_per_video_log1p": "channel_stats_as_of",
    "channel_video_count": "channel_stats_as_of",
    "channel_history_views_log1p_mean": "channel_history_as_of",
    "channel_history_videos": "channel_history_as_of",
}
PRIOR_FEATURES = tuple(n for n, t in TEMPORAL_FEATURES.items() if t == "prior_snapshot_time")
TEMPORAL_DESCRIPTIONS = {
    "publish_hour_utc": "hour of the day the video was published, UTC",
    "publish_weekday": "weekday the video was published (0 = Monday)",
    "prior_snapshot_count": "count of snapshots at age <= T",
    "prior_age_days": "video age at the last snapshot at age <= T, days",
    "prior_views_log1p": "log1p(views) at the last snapshot at age <= T",
    "prior_likes_log1p": "log1p(likes) at the last snapshot at age <= T (hidden: missing)",
    "prior_views_growth_per_day": "views/day between the last two snapshots at age <= T",
    "prior_likes_growth_per_day": "likes/day between the last two snapshots at age <= T",
    "channel_subscribers_log1p": "log1p(channel subscribers), last snapshot at or before T",
    "channel_views_per_video_log1p": "log1p(channel views / videos) without this video, <= T",
    "channel_video_count": "videos on the channel, last snapshot at or before T",
    "channel_history_views_log1p_mean": "mean log1p(views at H) of the channel's other "
    "videos whose targets were observed by T",
    "channel_history_videos": "count of those videos",
}
TIME_COLUMNS = (
    "published_at",
    "prediction_time",
    "target_time",
    "target_observed_at",
    "prior_snapshot_time",
    "channel_stats_as_of",
    "channel_history_as_of",
)


@dataclass(frozen=True)
class Task:
    """Target horizon H, prediction time T and how near H a snapshot must be."""

    horizon: pd.Timedelta
    prediction: pd.Timedelta
    tolerance: pd.Timedelta

    @classmethod
    def from_hours(cls, horizon: float, prediction: float, tolerance: float) -> Task:
        task = cls(
            pd.Timedelta(hours=horizon),
            pd.Timedelta(hours=prediction),
            pd.Timedelta(hours=tolerance),
        )
        if task.prediction >= task.horizon:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"prediction time T ({prediction} h) must be before the horizon H ({horizon} h)",
            )
        if task.horizon - task.tolerance <= task.prediction:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                f"horizon_tolerance_hours {tolerance} lets a target be read at or before T "
                f"({prediction} h): lower it below H - T = {horizon - prediction} h",
            )
        return task

    @classmethod
    def from_settings(cls, settings) -> Task:
        """From a profile's `dataset:` section (dp_core.profile.DatasetSettings)."""
        return cls.from_hours(
            settings.horizon_hours, settings.prediction_hours, settings.horizon_tolerance_hours
        )

    def describe(self) -> dict[str, float]:
        hours = pd.Timedelta(hours=1)
        return {
            "horizon_hours": self.horizon / hours,
            "prediction_hours": self.prediction / hours,
            "horizon_tolerance_hours": self.tolerance / hours,
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
    """Every snapshot row, validated: times as UTC, counts as float64 (likes may be NaN),
    sorted, no duplicates."""
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
                f"(needs {', '.join(REQUIRED_COLUMNS)}; see README 'Snapshot files')",
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
        bad = (counts < 0) | (counts.isna() & frame[column].notna())
        if column == "views":
            bad |= counts.isna()  # a snapshot without views is no snapshot
        if bad.any():
            video = frame.loc[bad, "video_id"].iloc[0]
            raise DpError(
                ErrorCode.INPUT_CORRUPT,
                f"snapshot column {column!r} needs non-negative counts (video {video!r})",
            )
        frame[column] = counts.astype("float64")  # NaN likes: hidden, kept missing
    for column in CHANNEL_STAT_COLUMNS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("platform", "channel_id"):
        if column in frame:
            frame[column] = frame[column].astype("string")
    source = frame["source"] if "source" in frame else pd.Series(CRAWL, index=frame.index)
    frame["source"] = source.fillna(CRAWL).astype("string")
    unknown = set(frame["source"]) - {CRAWL, ENRICHMENT}
    if unknown:
        raise DpError(
            ErrorCode.INPUT_CORRUPT,
            f"snapshot column 'source' is {CRAWL!r} or {ENRICHMENT!r}, not {sorted(unknown)}",
        )
    frame = frame.sort_values(["video_id", "snapshot_time"], kind="mergesort")
    frame = frame.drop_duplicates(["video_id", "snapshot_time"], keep="last")
    return frame.reset_index(drop=True)


def _days(delta) -> float:
    return float(delta / pd.Timedelta(days=1)) if pd.notna(delta) else float("nan")


def value_at_age(ages: np.ndarray, values: np.ndarray, horizon: float, tolerance: float):
    """(value at age `horizon`, age of the latest snapshot used, method) or None.

    Linear between the last age <= horizon and the first >= horizon when both lie within
    `tolerance`; else the nearest within `tolerance`. `ages` sorted, NaN values ignored."""
    keep = np.isfinite(values)
    ages, values = ages[keep], values[keep]
    if ages.size == 0:
        return None
    before = np.flatnonzero(ages <= horizon)
    after = np.flatnonzero(ages >= horizon)
    if before.size and after.size:
        i, j = before[-1], after[0]
        if horizon - ages[i] <= tolerance and ages[j] - horizon <= tolerance:
            if ages[j] == ages[i]:
                return float(values[i]), float(ages[i]), "exact"
            weight = (horizon - ages[i]) / (ages[j] - ages[i])
            return (
                float(values[i] + weight * (values[j] - values[i])),
                float(ages[j]),
                "interpolated",
            )
    nearest = int(np.argmin(np.abs(ages - horizon)))
    if abs(ages[nearest] - horizon) <= tolerance:
        return float(values[nearest]), float(ages[nearest]), "nearest"
    return None


@dataclass
class Targets:
    rows: pd.DataFrame  # one row per video with a views target at H
    dropped: dict[str, list[str]]  # reason -> video ids


def target_rows(snapshots: pd.DataFrame, task: Task) -> Targets:
    """One row per video with a target at H, its prediction time and temporal features.

    Columns: video_id, platform, channel_id, TIME_COLUMNS, views, likes, target_method,
    target_source, and every TEMPORAL_FEATURES column."""
    day = pd.Timedelta(days=1)
    horizon, tolerance = task.horizon / day, task.tolerance / day
    rows, dropped = [], {"no published_at": [], "no crawl snapshot near H": []}
    for video_id, group in snapshots.groupby("video_id", sort=True):
        group = group.sort_values("snapshot_time", kind="mergesort")
        published = _first_valid(group, "published_at")
        if pd.isna(published):
            dropped["no published_at"].append(str(video_id))
            continue
        crawl = group[group["source"] == CRAWL]
        ages = ((crawl["snapshot_time"] - published) / day).to_numpy(np.float64)
        views = value_at_age(ages, crawl["views"].to_numpy(np.float64), horizon, tolerance)
        if views is None:
            dropped["no crawl snapshot near H"].append(str(video_id))
            continue
        likes = value_at_age(ages, crawl["likes"].to_numpy(np.float64), horizon, tolerance)
        prediction_time = published + task.prediction
        known = group[group["snapshot_time"] <= prediction_time]
        row = {
            "video_id": video_id,
            "platform": _first_valid(group, "platform"),
            "channel_id": _first_valid(group, "channel_id"),
            "published_at": published,
            "prediction_time": prediction_time,
            "target_time": published + task.horizon,
            "target_observed_at": published
            + pd.Timedelta(days=max(views[1], likes[1] if likes else 0.0)),
            "target_method": views[2],
            "target_source": CRAWL,  # only crawl snapshots are read for a target
            "views": views[0],
            "likes": likes[0] if likes else float("nan"),
            "publish_hour_utc": published.hour + published.minute / 60.0,
            "publish_weekday": float(published.weekday()),
            "prior_snapshot_count": float(len(known)),
            "prior_snapshot_time": known["snapshot_time"].iloc[-1] if len(known) else pd.NaT,
        }
        row.update(_prior_features(known, published))
        row.update(_channel_features(known))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(_ROW_COLUMNS)) if not rows else pd.DataFrame(rows)
    if frame.empty:
        return Targets(frame, dropped)
    frame = add_channel_history(frame)
    for column in TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("ns")
    for column in ("platform", "channel_id", "target_method", "target_source"):
        frame[column] = frame[column].astype("string")
    return Targets(frame.reset_index(drop=True), dropped)


_ROW_COLUMNS = (
    "video_id",
    "platform",
    "channel_id",
    *TIME_COLUMNS,
    "target_method",
    "target_source",
    *TARGETS,
    *TEMPORAL_FEATURES,
)


def _first_valid(group: pd.DataFrame, column: str):
    if column not in group:
        return pd.NaT if column == "published_at" else None
    values = group[column].dropna()
    if len(values):
        return values.iloc[0]
    return pd.NaT if column == "published_at" else None


def _prior_features(known: pd.DataFrame, published) -> dict[str, float]:
    nan = float("nan")
    features = {name: nan for name in PRIOR_FEATURES if name != "prior_snapshot_count"}
    if known.empty:
        return features
    last = known.iloc[-1]
    features["prior_age_days"] = _days(last["snapshot_time"] - published)
    features["prior_views_log1p"] = float(np.log1p(last["views"]))
    features["prior_likes_log1p"] = float(np.log1p(last["likes"]))  # NaN when hidden
    if len(known) >= 2:
        before = known.iloc[-2]
        days = _days(last["snapshot_time"] - before["snapshot_time"])
        for target in TARGETS:
            if days > 0:
                features[f"prior_{target}_growth_per_day"] = (last[target] - before[target]) / days
    return features


def _channel_features(known: pd.DataFrame) -> dict:
    """Channel statistics from the last snapshot at or before T, without the video itself."""
    nan = float("nan")
    empty = {
        "channel_stats_as_of": pd.NaT,
        "channel_subscribers_log1p": nan,
        "channel_views_per_video_log1p": nan,
        "channel_video_count": nan,
    }
    if not all(c in known for c in CHANNEL_STAT_COLUMNS):
        return empty
    stated = known.dropna(subset=list(CHANNEL_STAT_COLUMNS), how="all")
    if stated.empty:
        return empty
    last = stated.iloc[-1]
    others = last["channel_video_count"] - 1  # the channel's count includes this video
    own_views = last["views"]
    per_video = (last["channel_view_count"] - own_views) / others if others > 0 else nan
    return {
        "channel_stats_as_of": last["snapshot_time"],
        "channel_subscribers_log1p": float(np.log1p(last["channel_subscribers"])),
        "channel_views_per_video_log1p": float(np.log1p(max(per_video, 0.0)))
        if np.isfinite(per_video)
        else nan,
        "channel_video_count": float(last["channel_video_count"]),
    }


def add_channel_history(frame: pd.DataFrame) -> pd.DataFrame:
    """Per video: mean log1p(views at H) of its channel's OTHER videos whose target was
    observed by the video's prediction time, their count, and the latest such time."""
    frame = frame.copy()
    nan = float("nan")
    means = np.full(len(frame), nan)
    counts = np.zeros(len(frame))
    as_of = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    observed = frame["target_observed_at"].dt.tz_convert(None).to_numpy("datetime64[ns]")
    predicted = frame["prediction_time"].dt.tz_convert(None).to_numpy("datetime64[ns]")
    log_views = np.log1p(frame["views"].to_numpy(np.float64))
    channels = frame["channel_id"].astype("object")
    for _, positions in frame.groupby(channels, sort=False).indices.items():
        # usable[i, j]: video j's target was observed by video i's prediction time (j != i)
        usable = observed[positions][None, :] <= predicted[positions][:, None]
        np.fill_diagonal(usable, False)
        for row, mask in zip(positions, usable, strict=True):
            if mask.any():
                counts[row] = mask.sum()
                means[row] = log_views[positions][mask].mean()
                as_of[row] = observed[positions][mask].max()
    frame["channel_history_views_log1p_mean"] = means
    frame["channel_history_videos"] = counts
    frame["channel_history_as_of"] = pd.to_datetime(as_of).tz_localize("UTC")
    return frame


def apply_enrichment(
    snapshots: pd.DataFrame, videos: pd.DataFrame, channels: pd.DataFrame
) -> pd.DataFrame:
    """Merge YouTube Data API answers into the snapshots.

    `videos` (video_id, channel_id, published_at, views, likes, fetched_at) fills a missing
    channel_id / published_at and adds one `enrichment` snapshot per video at `fetched_at`
    (never a target: see the module docstring); `channels` (channel_id, subscribers,
    view_count, video_count, fetched_at) adds channel statistics to it, as of `fetched_at`.
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
    new["source"] = ENRICHMENT
    if not channels.empty:
        stats = channels.set_index("channel_id")
        new["channel_subscribers"] = new["channel_id"].map(stats["subscribers"])
        new["channel_view_count"] = new["channel_id"].map(stats["view_count"])
        new["channel_video_count"] = new["channel_id"].map(stats["video_count"])
    return normalise_snapshots(pd.concat([merged, new], ignore_index=True))
