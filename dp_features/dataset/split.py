"""Train/test split by UPLOAD time, grouped by channel, with a gap of at least H.

Groups: a channel's videos form one group (a video without a channel is its own group,
with a warning), and videos with the same content key (a re-upload: the same feature row)
join the same group, so a duplicate can never be on both sides. Each group gets a time:
the median `published_at` of its videos. Groups at or after the cut are test groups.
Train keeps the train groups' videos published at or before `cut - gap`; test keeps the
test groups' videos published at or after `cut`. The rest is dropped. So no channel or
duplicate is on both sides, and every training target (observed by upload + H <= cut)
is known before the first test video is even uploaded. Works on a single crawl: only
`published_at` matters.

`cut` defaults to the group time below which `1 - test_fraction` of the groups fall (a
value of the data, not an interpolation: deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dp_core.errors import DpError, ErrorCode


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    dropped: pd.DataFrame
    cut: pd.Timestamp
    gap: pd.Timedelta
    warnings: list[str] = field(default_factory=list)


def split_groups(frame: pd.DataFrame) -> pd.Series:
    """A group label per row: channels, merged through shared content keys."""
    labels = [
        f"channel:{c}" if pd.notna(c) else f"video:{k}"
        for c, k in zip(frame["channel_id"], frame["video_key"], strict=True)
    ]
    parent = {label: label for label in labels}

    def root(label: str) -> str:
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    if "content_key" in frame:
        first: dict[str, str] = {}
        for label, key in zip(labels, frame["content_key"], strict=True):
            if pd.isna(key):
                continue
            if key in first:
                a, b = sorted((root(first[key]), root(label)))
                parent[b] = a
            else:
                first[key] = label
    return pd.Series([root(label) for label in labels], index=frame.index, dtype="object")


def time_split(
    frame: pd.DataFrame,
    gap: pd.Timedelta,
    test_fraction: float = 0.2,
    split_time: str | pd.Timestamp | None = None,
    what: str = "test",
) -> Split:
    """Split rows (video_key, channel_id, published_at[, content_key]) by upload time."""
    if not 0.0 < test_fraction < 1.0:
        raise DpError(ErrorCode.CONFIG_INVALID, f"{what}_fraction {test_fraction} not in (0, 1)")
    warnings = []
    no_channel = int(frame["channel_id"].isna().sum())
    if no_channel:
        warnings.append(
            f"{no_channel} of {len(frame)} videos have no channel_id: each is its own group, so "
            "a channel may be on both sides of the split; add channel_id to the snapshots "
            "(or enrich them) for a channel-disjoint split"
        )
    groups = split_groups(frame)
    times = frame["published_at"].dt.as_unit("ns").astype("int64")
    group_time = times.groupby(groups).median()
    if split_time is None:
        ordered = np.sort(group_time.to_numpy())
        at = ordered[min(len(ordered) - 1, int(np.floor(len(ordered) * (1 - test_fraction))))]
        cut = pd.Timestamp(int(at), tz="UTC")
    else:
        cut = pd.Timestamp(split_time)
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    in_test_group = groups.isin(set(group_time.index[group_time >= cut.value]))
    train_mask = ~in_test_group & (frame["published_at"] <= cut - gap)
    test_mask = in_test_group & (frame["published_at"] >= cut)
    train, test = frame[train_mask], frame[test_mask]
    if train.empty or test.empty:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"{what} split at upload time {cut.isoformat()} (gap {gap}) leaves {len(train)} "
            f"train and {len(test)} {what} videos: the uploads span too little time or too few "
            "channels; add videos or lower dataset.horizon_hours",
        )
    return Split(
        train.reset_index(drop=True),
        test.reset_index(drop=True),
        frame[~train_mask & ~test_mask].reset_index(drop=True),
        cut,
        gap,
        warnings,
    )
