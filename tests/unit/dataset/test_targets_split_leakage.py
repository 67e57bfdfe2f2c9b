"""Snapshots -> targets and temporal features; the time/channel split; each leakage check."""

import math

import pandas as pd
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.dataset.leakage import (
    channels_on_both_sides,
    features_after_target,
    target_derived_columns,
    videos_on_both_sides,
)
from dp_features.dataset.split import time_split
from dp_features.dataset.targets import TEMPORAL_FEATURES, read_snapshots, target_rows

pytestmark = pytest.mark.unit

CSV = """video_id,snapshot_time,views,likes,published_at,channel_id,channel_subscribers,channel_view_count,channel_video_count
a,2024-01-02T00:00:00Z,100,10,2024-01-01T00:00:00Z,c1,1000,50000,10
a,2024-01-04T00:00:00Z,300,20,2024-01-01T00:00:00Z,c1,1100,60000,11
a,2024-01-11T00:00:00Z,1000,50,2024-01-01T00:00:00Z,c1,1200,70000,12
b,2024-02-01T12:00:00Z,7,1,2024-01-31T12:00:00Z,c2,,,
"""


def test_targets_are_the_latest_snapshot_and_features_come_from_before(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part-0.csv").write_text(CSV)
    targets = target_rows(read_snapshots(tmp_path)).set_index("video_id")
    a = targets.loc["a"]
    assert (a["views"], a["likes"]) == (1000, 50)
    assert a["target_time"] == pd.Timestamp("2024-01-11", tz="UTC")
    assert a["age_at_target_days"] == pytest.approx(10.0)
    assert a["prior_snapshot_count"] == 2
    assert a["prior_snapshot_time"] == pd.Timestamp("2024-01-04", tz="UTC")
    assert a["prior_views_growth_per_day"] == pytest.approx(100.0)  # (300 - 100) / 2 days
    assert a["prior_likes_growth_per_day"] == pytest.approx(5.0)
    assert a["channel_views_per_video_log1p"] == pytest.approx(math.log1p(5000.0))
    assert a["channel_stats_as_of"] == pd.Timestamp("2024-01-02", tz="UTC")
    b = targets.loc["b"]
    assert b["age_at_target_days"] == pytest.approx(1.0)
    assert b["prior_snapshot_count"] == 0 and math.isnan(b["prior_views_log1p"])
    assert math.isnan(b["channel_subscribers_log1p"]) and pd.isna(b["channel_stats_as_of"])


def test_bad_snapshot_files_are_clear_errors(tmp_path):
    (tmp_path / "s.csv").write_text("video_id,views\na,1\n")
    with pytest.raises(DpError) as caught:
        read_snapshots(tmp_path / "s.csv")
    assert caught.value.code == ErrorCode.INPUT_CORRUPT and "snapshot_time" in caught.value.message
    with pytest.raises(DpError) as caught:
        read_snapshots(tmp_path / "nothing-here")
    assert caught.value.code == ErrorCode.INPUT_NOT_FOUND


def frame(rows):
    data = pd.DataFrame(rows, columns=["video_key", "channel_id", "target_time"])
    data["target_time"] = pd.to_datetime(data["target_time"], utc=True)
    data["channel_id"] = data["channel_id"].astype("string")
    return data


def test_split_is_by_time_and_never_shares_a_channel():
    data = frame(
        [
            ("v1", "c1", "2024-01-01"),
            ("v2", "c1", "2024-01-05"),
            ("v3", "c1", "2024-03-01"),  # a train channel's late video: dropped
            ("v4", "c2", "2024-01-03"),
            ("v5", "c3", "2024-02-20"),
            ("v6", "c3", "2024-03-05"),
            ("v7", None, "2024-03-10"),  # no channel: its own group
        ]
    )
    split = time_split(data, split_time="2024-02-15")
    assert list(split.train["video_key"]) == ["v1", "v2", "v4"]
    assert list(split.test["video_key"]) == ["v5", "v6", "v7"]
    assert list(split.dropped["video_key"]) == ["v3"]
    assert split.train["target_time"].max() < split.test["target_time"].min()
    assert not channels_on_both_sides(split.train, split.test)
    with pytest.raises(DpError, match="split at"):
        time_split(data, split_time="2030-01-01")


def test_each_leak_is_found_and_named():
    train = frame([("v1", "c1", "2024-01-01"), ("v2", "c2", "2024-01-02")])
    test = frame([("v2", "c3", "2024-02-01"), ("v3", "c1", "2024-02-02")])
    assert [f.name for f in videos_on_both_sides(train, test)] == ["v2"]
    assert [f.name for f in channels_on_both_sides(train, test)] == ["c1"]

    both = pd.concat([train, test], ignore_index=True)
    both["channel_stats_as_of"] = both["target_time"] - pd.Timedelta(days=1)
    both.loc[3, "channel_stats_as_of"] = both.loc[3, "target_time"] + pd.Timedelta(hours=1)
    both["channel_subscribers_log1p"] = 1.0
    findings = features_after_target(both, TEMPORAL_FEATURES)
    assert [f.name for f in findings] == ["channel_subscribers_log1p"]
    assert "v3" in findings[0].message and "after the target time" in findings[0].message

    many = pd.DataFrame({"views": range(1, 41), "likes": range(40, 0, -1)})
    many["honest"] = [i % 7 for i in range(40)]
    many["engagement_score"] = many["views"] * 3 + 1  # derived from the target
    many["views_per_day"] = 1.0  # named after a target
    named = {
        f.name
        for f in target_derived_columns(
            many, ["honest", "engagement_score", "views_per_day"], ["views", "likes"]
        )
    }
    assert named == {"engagement_score", "views_per_day"}
