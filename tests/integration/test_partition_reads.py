"""A run over a range of videos reads the partition list a bounded number of times, however
many steps ask Dagster for the range's keys (dp_assets/partitions.py), and the keys it
resolves are those of a fresh read, also after videos are registered since."""

import pytest
from dagster import (
    DagsterInstance,
    DagsterInvalidInvocationError,
    PartitionKeyRange,
    partition_loading_context,
)

from dp_assets.partitions import VIDEOS, videos_partitions
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_reuse import process_with

pytestmark = pytest.mark.integration


def _range(instance, start, end):
    with partition_loading_context(dynamic_partitions_store=instance):
        return videos_partitions.get_partition_keys_in_range(PartitionKeyRange(start, end))


def test_ranges_are_the_keys_between_their_ends_in_registration_order():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(VIDEOS, ["local__c", "local__a", "local__b"])
    assert _range(instance, "local__c", "local__b") == ["local__c", "local__a", "local__b"]
    instance.add_dynamic_partitions(VIDEOS, ["local__e", "local__d"])  # registered since
    assert _range(instance, "local__b", "local__d") == ["local__b", "local__e", "local__d"]
    assert _range(instance, "local__a", "local__a") == ["local__a"]
    assert _range(instance, "local__a", "local__a") == ["local__a"]  # known to exist now
    with pytest.raises(DagsterInvalidInvocationError):
        _range(instance, "local__a", "local__zz")
    with pytest.raises(DagsterInvalidInvocationError):
        _range(instance, "local__zz", "local__zz")


def test_a_range_of_recent_videos_reads_a_page_not_the_list(monkeypatch):
    """5000 videos: a range among the newest reads the newest 1000 keys once, no full list;
    an old range pages further back (pages doubling) and resolves the same keys as a full
    read; both ends unknown to a fresh instance object are found the same way."""
    instance = DagsterInstance.ephemeral()
    keys = [f"local__v{i:05d}" for i in range(5000)]
    for start in range(0, len(keys), 1000):
        instance.add_dynamic_partitions(VIDEOS, keys[start : start + 1000])
    full_reads, paged = [], []
    paginated = DagsterInstance.get_paginated_dynamic_partitions

    def counting_pages(self, *args, **kwargs):
        page = paginated(self, *args, **kwargs)
        paged.append(len(page.results))
        return page

    monkeypatch.setattr(DagsterInstance, "get_paginated_dynamic_partitions", counting_pages)
    monkeypatch.setattr(
        DagsterInstance, "get_dynamic_partitions", lambda *a, **k: full_reads.append(a)
    )
    assert _range(instance, "local__v04990", "local__v04995") == keys[4990:4996]
    assert paged == [1000] and full_reads == []
    assert _range(instance, "local__v04200", "local__v04999") == keys[4200:]  # known: no read
    assert paged == [1000]
    assert _range(instance, "local__v00010", "local__v00012") == keys[10:13]
    assert paged == [1000, 1000, 2000, 2000] and full_reads == []  # back to the oldest


def test_a_batch_run_reads_the_partition_list_a_few_times(tmp_path, dagster_instance):
    dagster_instance.add_dynamic_partitions(VIDEOS, [f"local__filler{i:05d}" for i in range(2000)])
    clips = [make_clip(tmp_path / "in" / f"v{i}.mp4", ClipSpec(duration_s=1.0)) for i in range(3)]
    components = {"segmenter": {}, "cut_detection": {}, "core_optical_flow": {}}
    calls = {"get_dynamic_partitions": 0, "has_dynamic_partition": 0}
    originals = {name: getattr(DagsterInstance, name) for name in calls}

    def counting(name):
        def call(instance, *args, **kwargs):
            calls[name] += 1
            return originals[name](instance, *args, **kwargs)

        return call

    for name in calls:
        setattr(DagsterInstance, name, counting(name))
    try:
        results, _ = process_with(dagster_instance, tmp_path, clips, components)
        ranged = dict(calls)
        single = tmp_path / "single"
        single.mkdir()
        one = [make_clip(tmp_path / "in" / "alone.mp4", ClipSpec(duration_s=1.0))]
        results += process_with(dagster_instance, single, one, components)[0]
    finally:
        for name, original in originals.items():
            setattr(DagsterInstance, name, original)
    assert [r.status for r in results] == ["success"] * 4, [r.message for r in results]
    # one run of 3 videos x 3 steps: Dagster alone read the list ~90 times before
    # planning the batch (dp process) reads it; Dagster's steps page the newest keys instead
    assert ranged["get_dynamic_partitions"] <= 1, ranged
    # a run of one video: Dagster asked whether its key exists ~80 times before
    assert calls["has_dynamic_partition"] - ranged["has_dynamic_partition"] <= 6, calls
