"""Leak rules for a train/test split: time and lineage. Each finding names the leak and the
fix; any finding refuses the dataset. Strong correlations are warnings only.

Rules (findings):
- `feature_after_prediction_time`: a feature whose time column is after the row's
  prediction time T (a feature stamped exactly at T is known at T and passes);
- `target_not_after_prediction_time`: a target observed at or before T (nothing to predict);
- `target_from_enrichment`: a target read from an enrichment snapshot;
- `video_on_both_sides`, `channel_on_both_sides`, `duplicate_on_both_sides`: a video, a
  channel, or one content (re-upload) in train and in test;
- `mixed_profiles`: rows computed under more than one profile (config_hash);
- `target_named`: a feature column named after a target.
Channel statistics exclude the video itself by time: the channel history is stamped with
the latest target it averages, and the video's own target is observed after its T.

Warnings (never a refusal on their own): features ranking videos like a target with
|Spearman| >= STRONG_CORRELATION, listed with their values. An early-views prior is
legitimately that strong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from dp_core.errors import DpError, ErrorCode

STRONG_CORRELATION = 0.95

FIXES = {
    "feature_after_prediction_time": "the snapshot or channel data carries times after "
    "published_at + T: check published_at and snapshot_time (UTC), or raise "
    "dataset.prediction_hours in the profile",
    "target_not_after_prediction_time": "lower dataset.horizon_tolerance_hours below H - T",
    "target_from_enrichment": "targets come from crawl snapshots only: mark API answers "
    "source=enrichment",
    "video_on_both_sides": "each video must have one feature row: remove the duplicate rows",
    "channel_on_both_sides": "give every video its channel_id (the split groups by channel)",
    "duplicate_on_both_sides": "re-uploads must share a group: keep their feature rows "
    "identical or drop the copies",
    "mixed_profiles": "rebuild with one profile: reprocess the other videos with it "
    "(`dp process --profile ...`) or build from a storage holding only its runs",
    "target_named": "rename or drop the column: features must not be targets",
}


@dataclass(frozen=True)
class LeakFinding:
    check: str
    name: str  # the column, video or channel that leaks
    message: str

    @property
    def fix(self) -> str:
        return FIXES[self.check]


@dataclass(frozen=True)
class Correlation:
    feature: str
    target: str
    spearman: float


def _examples(values: Iterable, limit: int = 5) -> str:
    items = sorted(str(v) for v in values)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def features_after_prediction_time(
    frame: pd.DataFrame, feature_times: Mapping[str, str]
) -> list[LeakFinding]:
    """Features whose time column (feature -> time column) is after `prediction_time`."""
    findings = []
    for feature, time_column in feature_times.items():
        if feature not in frame or time_column not in frame:
            continue
        late = frame[time_column].notna() & (frame[time_column] > frame["prediction_time"])
        late &= frame[feature].notna()
        if late.any():
            findings.append(
                LeakFinding(
                    "feature_after_prediction_time",
                    feature,
                    f"feature {feature!r} is from after the prediction time ({time_column} > "
                    f"prediction_time) for {int(late.sum())} video(s): "
                    f"{_examples(frame.loc[late, 'video_key'])}",
                )
            )
    return findings


def targets_after_prediction_time(frame: pd.DataFrame) -> list[LeakFinding]:
    early = frame["target_observed_at"] <= frame["prediction_time"]
    if not early.any():
        return []
    return [
        LeakFinding(
            "target_not_after_prediction_time",
            "target_observed_at",
            f"{int(early.sum())} target(s) observed at or before the prediction time: "
            f"{_examples(frame.loc[early, 'video_key'])}",
        )
    ]


def targets_from_enrichment(frame: pd.DataFrame) -> list[LeakFinding]:
    bad = frame["target_source"] != "crawl"
    if not bad.any():
        return []
    return [
        LeakFinding(
            "target_from_enrichment",
            "target_source",
            f"{int(bad.sum())} target(s) not read from crawl snapshots: "
            f"{_examples(frame.loc[bad, 'video_key'])}",
        )
    ]


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


def duplicates_on_both_sides(train: pd.DataFrame, test: pd.DataFrame) -> list[LeakFinding]:
    if "content_key" not in train or "content_key" not in test:
        return []
    shared = set(train["content_key"].dropna()) & set(test["content_key"].dropna())
    findings = []
    for key in sorted(shared):
        videos = [*train.loc[train["content_key"] == key, "video_key"]]
        videos += [*test.loc[test["content_key"] == key, "video_key"]]
        findings.append(
            LeakFinding(
                "duplicate_on_both_sides",
                str(key),
                f"the same content (a re-upload) is in train and test: {_examples(videos)}",
            )
        )
    return findings


def mixed_profiles(frame: pd.DataFrame) -> list[LeakFinding]:
    counts = frame["config_hash"].astype("object").fillna("<none>").value_counts()
    if len(counts) <= 1:
        return []
    listed = ", ".join(f"{h} ({n} videos)" for h, n in sorted(counts.items()))
    return [
        LeakFinding(
            "mixed_profiles",
            "config_hash",
            f"rows come from {len(counts)} profiles (config_hash): {listed}",
        )
    ]


def target_named_columns(
    feature_columns: Iterable[str], targets: Iterable[str]
) -> list[LeakFinding]:
    targets = list(targets)
    findings = []
    for column in feature_columns:
        named = [t for t in targets if column == t or column.startswith(f"{t}_")]
        if named:
            findings.append(
                LeakFinding(
                    "target_named", column, f"feature {column!r} is named after target {named[0]!r}"
                )
            )
    return findings


def strong_correlations(
    frame: pd.DataFrame,
    feature_columns: Iterable[str],
    targets: Iterable[str],
    threshold: float = STRONG_CORRELATION,
) -> list[Correlation]:
    """Features ranking videos like a target (|Spearman| >= threshold): a warning to read."""
    found = []
    for column in feature_columns:
        values = frame[column].to_numpy(np.float64)
        for target in targets:
            truth = frame[target].to_numpy(np.float64)
            usable = np.isfinite(values) & np.isfinite(truth)
            if usable.sum() < 10 or np.ptp(values[usable]) == 0 or np.ptp(truth[usable]) == 0:
                continue
            rho = float(spearmanr(values[usable], truth[usable]).statistic)
            if abs(rho) >= threshold:
                found.append(Correlation(column, target, round(rho, 4)))
    return found


def find_leaks(
    train: pd.DataFrame,
    test: pd.DataFrame,
    feature_columns: Iterable[str],
    feature_times: Mapping[str, str],
    targets: Iterable[str],
) -> list[LeakFinding]:
    """Every rule over a split; frames need video_key, channel_id, config_hash,
    prediction_time, target_observed_at, target_source and the features' time columns."""
    both = pd.concat([train, test], ignore_index=True)
    return [
        *features_after_prediction_time(both, feature_times),
        *targets_after_prediction_time(both),
        *targets_from_enrichment(both),
        *videos_on_both_sides(train, test),
        *channels_on_both_sides(train, test),
        *duplicates_on_both_sides(train, test),
        *mixed_profiles(both),
        *target_named_columns(feature_columns, targets),
    ]


def raise_on_leaks(findings: list[LeakFinding]) -> None:
    """CONFIG_INVALID listing every finding with its fix."""
    if findings:
        lines = "\n".join(f"- [{f.check}] {f.message}\n  fix: {f.fix}" for f in findings)
        raise DpError(
            ErrorCode.CONFIG_INVALID, f"training dataset leaks ({len(findings)}):\n{lines}"
        )
