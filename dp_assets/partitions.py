"""One dynamic partition per video.

A run over several videos is a partition range, and Dagster resolves a range of a dynamic
partitions definition by reading the whole partition list, about 90 times per video batch
(every step, input, output and check asks): at 100k videos that is 0.4 s each, over a
minute per run (benchmarks/pipeline.py). `VideoPartitions` keeps the list it read last per
instance and slices ranges from it while both ends are in it; keys are only ever appended
in registration order, so a range between two known keys is what a fresh read would give.
A range with an end it does not know (a video registered since) is found by paging back
from the newest partition (`get_paginated_dynamic_partitions`, newest first) until both
ends are seen: a run covers videos registered together, most often the latest ones, so a
step at 1M videos reads a page or two, not the list (issue 25; 1M keys: ~2.4 s a read).
What it paged is a contiguous stretch of the order, kept for the next range.
A single key is checked against the database once per instance, not twice per asking step.
"""

from __future__ import annotations

import threading
import weakref

from dagster import DynamicPartitionsDefinition, PartitionKeyRange, partition_loading_context

VIDEOS = "videos"
FIRST_PAGE = 1000  # newest keys read first; each further page twice the one before


class _KnownOrder:
    def __init__(self, keys: list[str]):
        self.keys, self.position = keys, {key: i for i, key in enumerate(keys)}


_known: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # store -> _KnownOrder
_existing: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # store -> {key}
_lock = threading.Lock()


class VideoPartitions(DynamicPartitionsDefinition):
    def get_partition_keys_in_range(self, partition_key_range: PartitionKeyRange) -> list[str]:
        start, end = partition_key_range.start, partition_key_range.end
        with partition_loading_context() as context:
            store = context.dynamic_partitions_store
        if store is None:
            return list(super().get_partition_keys_in_range(partition_key_range))
        if start == end:
            # Dagster checks that the key exists twice per call, ~120 calls per run: once is
            # enough (a registered video is never unregistered while a run covers it)
            with _lock:
                if start in _existing.setdefault(store, set()):
                    return [start]
            keys = list(super().get_partition_keys_in_range(partition_key_range))
            with _lock:
                _existing[store].add(start)
            return keys
        with _lock:
            known = _known.get(store)
        if known is None or start not in known.position or end not in known.position:
            known = _KnownOrder(newest_keys_reaching(store, self.name, {start, end}))
            with _lock:
                _known[store] = known
            if start not in known.position or end not in known.position:
                # Dagster's own error for a range with an end that does not exist
                return list(super().get_partition_keys_in_range(partition_key_range))
        first, last = known.position[start], known.position[end]
        return known.keys[first : last + 1]


def newest_keys_reaching(store, name: str, wanted: set[str]) -> list[str]:
    """The newest partition keys of `name` in registration order, back to the oldest of
    `wanted` (every key when one of them is not registered): pages newest first, each
    twice the size of the one before, so a range near the end costs a page or two and
    an old one at most ~2x one full read."""
    newest_first: list[str] = []
    missing, cursor, limit = set(wanted), None, FIRST_PAGE
    while missing:
        page = store.get_paginated_dynamic_partitions(name, limit, ascending=False, cursor=cursor)
        newest_first.extend(page.results)
        missing.difference_update(page.results)
        if not page.has_more:
            break
        cursor, limit = page.cursor, limit * 2
    return newest_first[::-1]


videos_partitions = VideoPartitions(name=VIDEOS)
