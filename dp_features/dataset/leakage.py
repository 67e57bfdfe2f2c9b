"""Leakage checks for a train/test split. Each check returns findings naming the leak.

- `features_after_target`: a feature whose information time is after the target time;
- `videos_on_both_sides`: a video in train and in test;
- `channels_on_both_sides`: a channel in train and in test;
- `target_derived_columns`: a feature column named after, or ranking like, a target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from dp_core.errors import DpError, ErrorCode

# A feature ranking videos this closely like a target is taken as computed from it.
DERIVED_RANK_CORRELATION = 0.995


@dataclass(frozen=True)
class LeakFinding:
    check: str
    name: str  # the column, video or channel that leaks
    message: str


def _examples(values: Iterable, limit: int = 5) -> str:
    items = sorted(str(v) for v in values)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def features_after_target(
    frame: pd.DataFrame, feature_times: Mapping[str, str], target_time: str = "target_time"
) -> list[LeakFinding]:
    """Feature columns whose time column (feature -> time column) is after the target time."""
    findings = []
    for feature, time_column in feature_times.items():
        if feature not in frame or time_column not in frame:
            continue
        late = frame[time_column].notna() & (frame[time_column] > frame[target_time])
        late &= frame[feature].notna()
        if late.any():
            videos = frame.loc[late, "video_key"]
            findings.append(
                LeakFinding(
                    "feature_after_target",
                    feature,
                    f"feature {feature!r} is from after the target time ({time_column} > "
                    f"{target_time}) for {int(late.sum())} video(s): {_examples(videos)}",
                )
            )
    return findings


def videos_on_both_sides(train: pd.DataFrame, test: pd.DataFrame) -> list[LeakFinding]:
    shared = set(train["video_key"]) & set(test["video_key"])
    return [
        LeakFinding(
            "video_on_both_sides", key, f"video {key!r} is in both the train and the test split"
        )
        for key in sorted(shared)
    ]


def channels_on_both_sides(train: pd.DataFrame, test: pd.DataFrame) -> list[LeakFinding]:
    shared = set(train["channel_id"].dropna()) & set(test["channel_id"].dropna())
    return [
        LeakFinding(
            "channel_on_both_sides",
            str(channel),
            f"channel {channel!r} has videos in both the train and the test split",
        )
        for channel in sorted(shared)
    ]


def target_derived_columns(
    frame: pd.DataFrame, feature_columns: Iterable[str], targets: Iterable[str]
) -> list[LeakFinding]:
    """Features named after a target, or whose ranking matches a target's (|rho| >= 0.995)."""
    targets = list(targets)
    findings = []
    for column in feature_columns:
        named = [t for t in targets if column == t or column.startswith(f"{t}_")]
        if named:
            findings.append(
                LeakFinding(
                    "target_derived",
                    column,
                    f"feature {column!r} is named after target {named[0]!r}",
                )
            )
            continue
        values = frame[column].to_numpy(np.float64)
        for target in targets:
            truth = frame[target].to_numpy(np.float64)
            usable = np.isfinite(values) & np.isfinite(truth)
            if usable.sum() < 10 or np.ptp(values[usable]) == 0:
                continue
            rho = spearmanr(values[usable], truth[usable]).statistic
            if abs(rho) >= DERIVED_RANK_CORRELATION:
                findings.append(
                    LeakFinding(
                        "target_derived",
                        column,
                        f"feature {column!r} ranks videos like target {target!r} "
                        f"(Spearman {rho:.4f}): it looks derived from the target",
                    )
                )
                break
    return findings


def find_leaks(
    train: pd.DataFrame,
    test: pd.DataFrame,
    feature_columns: Iterable[str],
    feature_times: Mapping[str, str],
    targets: Iterable[str],
) -> list[LeakFinding]:
    """Every check over a split; frames need video_key, channel_id, target_time, targets."""
    feature_columns = list(feature_columns)
    both = pd.concat([train, test], ignore_index=True)
    return [
        *features_after_target(both, feature_times),
        *videos_on_both_sides(train, test),
        *channels_on_both_sides(train, test),
        *target_derived_columns(both, feature_columns, targets),
    ]


def raise_on_leaks(findings: list[LeakFinding]) -> None:
    """CONFIG_INVALID listing every finding: the dataset's inputs or split let targets leak."""
    if findings:
        lines = "\n".join(f"- [{f.check}] {f.message}" for f in findings)
        raise DpError(
            ErrorCode.CONFIG_INVALID, f"training dataset leaks ({len(findings)}):\n{lines}"
        )
