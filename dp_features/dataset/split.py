"""Time-based train/test split, grouped by channel.

Each channel (a video without one is its own group) gets a time: the median target time of
its videos. Channels whose time is at or after `split_time` are test channels, the others
train channels. Train keeps the train channels' videos with a target time BEFORE
`split_time`; test keeps the test channels' videos AT or AFTER it. The rest (a train
channel's later videos, a test channel's earlier ones) is dropped, so that no channel is on
both sides and every training target precedes every test target.

`split_time` defaults to the channel time below which `1 - test_fraction` of the channels
fall (deterministic: a value of the data, not an interpolation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dp_core.errors import DpError, ErrorCode


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    dropped: pd.DataFrame
    split_time: pd.Timestamp


def _groups(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["channel_id"]
        .astype("object")
        .where(frame["channel_id"].notna(), "video:" + frame["video_key"].astype(str))
    )


def time_split(
    frame: pd.DataFrame, split_time: str | pd.Timestamp | None = None, test_fraction: float = 0.2
) -> Split:
    """Split rows (video_key, channel_id, target_time, ...) by time, grouped by channel."""
    if not 0.0 < test_fraction < 1.0:
        raise DpError(ErrorCode.CONFIG_INVALID, f"test_fraction {test_fraction} not in (0, 1)")
    groups = _groups(frame)
    times = frame["target_time"].dt.as_unit("ns").astype("int64")  # ns since the epoch
    channel_time = times.groupby(groups).median()
    if split_time is None:
        ordered = np.sort(channel_time.to_numpy())
        at = ordered[min(len(ordered) - 1, int(np.floor(len(ordered) * (1 - test_fraction))))]
        cut = pd.Timestamp(int(at), tz="UTC")
    else:
        cut = pd.Timestamp(split_time)
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    test_channels = set(channel_time.index[channel_time >= cut.value])
    in_test_channel = groups.isin(test_channels)
    after = frame["target_time"] >= cut
    train = frame[~in_test_channel & ~after]
    test = frame[in_test_channel & after]
    dropped = frame[(in_test_channel & ~after) | (~in_test_channel & after)]
    if train.empty or test.empty:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"split at {cut.isoformat()} leaves {len(train)} train and {len(test)} test videos; "
            "pick a split time inside the range of target times",
        )
    return Split(
        train.reset_index(drop=True),
        test.reset_index(drop=True),
        dropped.reset_index(drop=True),
        cut,
    )
