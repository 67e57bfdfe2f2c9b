"""Snapshots -> targets at H and features at T; the upload-time split; each leak rule, planted
and caught (or passing when legitimate)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_features.dataset.leakage import (
    channels_on_both_sides,
    duplicates_on_both_sides,
    features_after_prediction_time,
    find_leaks,
    mixed_profiles,
    raise_on_leaks,
    strong_correlations,
    target_named_columns,
    targets_from_enrichment,
    videos_on_both_sides,
)
from dp_features.dataset.split import time_split
from dp_features.dataset.targets import (
    TEMPORAL_FEATURES,
    Task,
    apply_enrichment,
    read_snapshots,
    target_rows,
    value_at_age,
)
from dp_resources.integrations.youtube import YouTubeDataClient

pytestmark = pytest.mark.unit

TASK = Task.from_hours(horizon=168, prediction=24, tolerance=48)  # H = 7 days, T = 1 day
CSV = """video_id,snapshot_time,views,likes,published_at,channel_id,channel_subscribers,channel_view_count,channel_video_count
a,2024-01-01T12:00:00Z,100,10,2024-01-01T00:00:00Z,c1,1000,50100,11
a,2024-01-06T00:00:00Z,600,30,2024-01-01T00:00:00Z,c1,1100,60600,11
a,2024-01-09T00:00:00Z,900,,2024-01-01T00:00:00Z,c1,1200,70900,11
b,2024-02-01T12:00:00Z,7,1,2024-01-31T12:00:00Z,c2,,,
c,2024-03-08T00:00:00Z,50,,2024-03-01T00:00:00Z,c2,,,
d,2024-03-20T00:00:00Z,50,5,2024-03-01T00:00:00Z,c2,,,
"""


@pytest.fixture
def snapshots(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part-0.csv").write_text(CSV)
    return read_snapshots(tmp_path)


def test_targets_are_read_at_H_and_features_at_T(snapshots):
    targets = target_rows(snapshots, TASK)
    rows = targets.rows.set_index("video_id")
    a = rows.loc["a"]
    # views at day 7: between day 5 (600) and day 8 (900) -> 600 + 2/3 * 300
    assert a["views"] == pytest.approx(800.0)
    assert a["target_method"] == "interpolated"
    assert a["target_time"] == pd.Timestamp("2024-01-08", tz="UTC")
    assert a["prediction_time"] == pd.Timestamp("2024-01-02", tz="UTC")
    # likes are hidden at day 8: only day 5 is known, 2 days from H, within the tolerance
    assert a["likes"] == 30 and a["target_observed_at"] == pd.Timestamp("2024-01-09", tz="UTC")
    # the prior is the day-0.5 snapshot only: the day-5 one is after T
    assert a["prior_snapshot_count"] == 1
    assert a["prior_views_log1p"] == pytest.approx(math.log1p(100))
    assert a["prior_age_days"] == pytest.approx(0.5)
    # channel statistics at or before T, without the video's own 100 views
    assert a["channel_stats_as_of"] == pd.Timestamp("2024-01-01T12:00", tz="UTC")
    assert a["channel_views_per_video_log1p"] == pytest.approx(math.log1p(50000 / 10))
    # c: a single snapshot exactly at H, hidden likes stay missing (never 0)
    c = rows.loc["c"]
    assert c["views"] == 50 and c["target_method"] == "exact" and math.isnan(c["likes"])
    # b (day 1 only) and d (day 19 only) have no snapshot near H: dropped, and said so
    assert set(rows.index) == {"a", "c"}
    assert targets.dropped["no crawl snapshot near H"] == ["b", "d"]


def test_value_at_age_interpolates_or_drops():
    ages = np.array([1.0, 5.0, 9.0])
    assert value_at_age(ages, np.array([10.0, 50.0, 90.0]), 7.0, 2.0) == (70.0, 9.0, "interpolated")
    assert value_at_age(ages, np.array([10.0, 50.0, 90.0]), 7.0, 1.0) is None
    assert value_at_age(np.array([8.0]), np.array([5.0]), 7.0, 2.0) == (5.0, 8.0, "nearest")


def test_an_enrichment_snapshot_never_becomes_the_target(snapshots):
    before = target_rows(snapshots, TASK).rows.set_index("video_id")
    # fetched at day 7.5 the API says 250,000 views: inside the window around H, it must
    # not shift the day-7 target, and its channel statistics (after T) must not reach the
    # features
    videos = pd.DataFrame(
        {
            "video_id": ["a"],
            "channel_id": ["c1"],
            "published_at": ["2024-01-01T00:00:00Z"],
            "views": [250000],
            "likes": [9000],
            "fetched_at": pd.to_datetime(["2024-01-08T12:00:00Z"], utc=True),
        }
    )
    channels = pd.DataFrame(
        {
            "channel_id": ["c1"],
            "subscribers": [1e6],
            "view_count": [1e8],
            "video_count": [12.0],
            "fetched_at": pd.to_datetime(["2024-01-08T12:00:00Z"], utc=True),
        }
    )
    enriched = apply_enrichment(snapshots, videos, channels)
    assert (enriched["source"] == "enrichment").sum() == 1
    after = target_rows(enriched, TASK).rows.set_index("video_id")
    assert after.loc["a", "views"] == before.loc["a", "views"] == pytest.approx(800.0)
    assert (
        after.loc["a", "channel_subscribers_log1p"] == before.loc["a", "channel_subscribers_log1p"]
    )


def test_task_settings_are_checked():
    with pytest.raises(DpError, match="before the horizon"):
        Task.from_hours(horizon=24, prediction=24, tolerance=1)
    with pytest.raises(DpError, match="horizon_tolerance_hours"):
        Task.from_hours(horizon=48, prediction=24, tolerance=30)


def test_bad_snapshot_files_are_clear_errors(tmp_path):
    (tmp_path / "s.csv").write_text("video_id,views\na,1\n")
    with pytest.raises(DpError) as caught:
        read_snapshots(tmp_path / "s.csv")
    assert caught.value.code == ErrorCode.INPUT_CORRUPT and "snapshot_time" in caught.value.message
    with pytest.raises(DpError) as caught:
        read_snapshots(tmp_path / "nothing-here")
    assert caught.value.code == ErrorCode.INPUT_NOT_FOUND


def frame(rows):
    data = pd.DataFrame(rows, columns=["video_key", "channel_id", "published_at"])
    data["published_at"] = pd.to_datetime(data["published_at"], utc=True)
    data["channel_id"] = data["channel_id"].astype("string")
    return data


def test_split_is_by_upload_time_with_a_gap_of_H_and_never_shares_a_channel():
    data = frame(
        [
            ("v1", "c1", "2024-01-01"),
            ("v2", "c1", "2024-01-05"),
            ("v3", "c1", "2024-02-12"),  # a train channel's upload within H of the cut: dropped
            ("v4", "c2", "2024-01-03"),
            ("v5", "c3", "2024-02-20"),
            ("v6", "c3", "2024-03-05"),
            ("v8", "c3", "2024-02-10"),  # a test channel's upload before the cut: dropped
        ]
    )
    split = time_split(data, pd.Timedelta(days=7), split_time="2024-02-15")
    assert list(split.train["video_key"]) == ["v1", "v2", "v4"]
    assert list(split.test["video_key"]) == ["v5", "v6"]
    assert sorted(split.dropped["video_key"]) == ["v3", "v8"]
    gap = split.test["published_at"].min() - split.train["published_at"].max()
    assert gap >= pd.Timedelta(days=7)
    assert not channels_on_both_sides(split.train, split.test) and not split.warnings
    with pytest.raises(DpError, match="split at upload time"):
        time_split(data, pd.Timedelta(days=7), split_time="2030-01-01")


def test_a_missing_channel_id_is_a_warning_and_duplicates_share_a_side():
    data = frame(
        [
            ("v1", "c1", "2024-01-01"),
            ("v2", None, "2024-01-02"),
            ("v3", "c2", "2024-03-01"),
            ("v4", "c3", "2024-03-02"),
        ]
    )
    data["content_key"] = pd.array([None, "same", None, "same"], dtype="string")
    split = time_split(data, pd.Timedelta(days=7), split_time="2024-02-15")
    assert "1 of 4 videos have no channel_id" in split.warnings[0]
    # v2 (no channel, early) and v4 (a re-upload of it, late) are one group: its median
    # upload is before the cut, so v4 cannot be test and v2 is train
    assert "v4" not in set(split.test["video_key"])
    assert not duplicates_on_both_sides(split.train, split.test)


def leak_frame():
    data = frame(
        [("v1", "c1", "2024-01-01"), ("v2", "c2", "2024-01-02"), ("v3", "c3", "2024-02-01")]
    )
    data["prediction_time"] = data["published_at"] + pd.Timedelta(days=1)
    data["target_observed_at"] = data["published_at"] + pd.Timedelta(days=7)
    data["target_source"] = "crawl"
    data["config_hash"] = "h1"
    data["views"] = [10.0, 20.0, 30.0]
    data["likes"] = [1.0, 2.0, 3.0]
    data["content_key"] = pd.array(["k1", "k2", "k3"], dtype="string")
    for feature, time_column in TEMPORAL_FEATURES.items():
        data[feature] = 1.0
        data[time_column] = data["prediction_time"]  # exactly at T: known at T, passes
    data["published_at"] = data["prediction_time"] - pd.Timedelta(days=1)
    return data


def test_a_feature_stamped_at_T_passes_and_one_after_T_is_named():
    data = leak_frame()
    assert features_after_prediction_time(data, TEMPORAL_FEATURES) == []
    data.loc[2, "prior_snapshot_time"] += pd.Timedelta(seconds=1)
    findings = features_after_prediction_time(data, TEMPORAL_FEATURES)
    assert {f.name for f in findings} == {n for n, t in TEMPORAL_FEATURES.items() if "prior" in t}
    assert all("v3" in f.message for f in findings)


def test_channel_history_that_includes_the_video_itself_is_caught():
    data = leak_frame()
    # the video's own target (observed at day 7) in its channel's history: stamped after T
    data.loc[0, "channel_history_as_of"] = data.loc[0, "target_observed_at"]
    [finding] = features_after_prediction_time(
        data, {"channel_history_views_log1p_mean": "channel_history_as_of"}
    )
    assert finding.check == "feature_after_prediction_time" and "v1" in finding.message


def test_split_and_lineage_rules_each_name_the_leak_and_the_fix():
    data = leak_frame()
    train, test = data.iloc[:2].reset_index(drop=True), data.iloc[2:].reset_index(drop=True)
    columns = list(TEMPORAL_FEATURES)
    assert find_leaks(train, test, columns, TEMPORAL_FEATURES, ["views", "likes"]) == []

    same_video = pd.concat([test, train.iloc[[0]]], ignore_index=True)
    assert [f.name for f in videos_on_both_sides(train, same_video)] == ["v1"]

    crossing = test.assign(channel_id=pd.array(["c1"], dtype="string"))
    assert [f.name for f in channels_on_both_sides(train, crossing)] == ["c1"]

    reupload = test.assign(content_key=pd.array(["k1"], dtype="string"))
    [duplicate] = duplicates_on_both_sides(train, reupload)
    assert "v1" in duplicate.message and "v3" in duplicate.message

    mixed = data.assign(config_hash=["h1", "h1", "h2"])
    [profiles] = mixed_profiles(mixed)
    assert "h2 (1 videos)" in profiles.message and "one profile" in profiles.fix

    enriched = data.assign(target_source=["crawl", "enrichment", "crawl"])
    [enrichment] = targets_from_enrichment(enriched)
    assert "v2" in enrichment.message

    assert [f.name for f in target_named_columns(["views_per_day", "ok"], ["views"])] == [
        "views_per_day"
    ]
    with pytest.raises(DpError) as caught:
        raise_on_leaks(mixed_profiles(mixed))
    assert caught.value.code == ErrorCode.CONFIG_INVALID
    assert "fix: rebuild with one profile" in caught.value.message


def test_an_early_views_prior_is_a_warning_listing_the_correlation_never_a_refusal():
    rng = np.random.default_rng(3)
    views = np.expm1(rng.uniform(3, 12, 200))
    data = pd.DataFrame({"views": views, "likes": views / 30})
    # realistic early views: V * 0.5^b, b small and noisy -> Spearman ~0.99 with the target
    data["prior_views_log1p"] = np.log1p(views * 0.5 ** rng.uniform(1, 2, 200))
    data["honest"] = rng.normal(size=200)
    found = strong_correlations(data, ["prior_views_log1p", "honest"], ["views"])
    assert [(c.feature, c.target) for c in found] == [("prior_views_log1p", "views")]
    assert found[0].spearman > 0.98
    # and the refusal rules see nothing wrong in it
    assert target_named_columns(["prior_views_log1p"], ["views", "likes"]) == []


def test_hidden_like_counts_stay_missing(tmp_path):
    client = YouTubeDataClient(mode="replay", recordings_dir=tmp_path)
    params = {"part": "snippet,statistics", "id": "open,hidden", "maxResults": "50"}
    item = {"snippet": {"channelId": "ch", "publishedAt": "2024-01-01T00:00:00Z"}}
    body = {
        "items": [
            {"id": "open", **item, "statistics": {"viewCount": "100", "likeCount": "7"}},
            {"id": "hidden", **item, "statistics": {"viewCount": "100"}},
        ]
    }
    record = {"fetched_at": "2024-01-09T00:00:00Z", "status": 200, "body": body}
    client.recording_path("videos", params).write_text(json.dumps(record))
    channel_params = {"part": "statistics", "id": "ch", "maxResults": "50"}
    channel_body = {"items": [{"id": "ch", "statistics": {"subscriberCount": "5"}}]}
    client.recording_path("channels", channel_params).write_text(
        json.dumps({"fetched_at": "2024-01-09T00:00:00Z", "status": 200, "body": channel_body})
    )
    videos, _ = client.enrichment_frames(["open", "hidden"])
    likes = videos.set_index("video_id")["likes"]
    assert likes["open"] == 7 and math.isnan(likes["hidden"])
