"""Storage keys: every object the platform writes, relative to one storage base.

    result_store/<platform>/<video>/<run>/<component>.npz
    result_store/<platform>/<video>/<run>/manifest.json
    state/<platform>/<video>/<run>/{state_events.jsonl,state.json}
    frames_dir/<platform>/<video>/<run>/...

Keys are always relative, '/'-separated, and made of safe segments, so they can never
escape a storage base (no absolute paths, no '..', no backslashes).
"""

from __future__ import annotations

import re

from dp_core.errors import DpError, ErrorCode
from dp_core.identity import parse_partition_key

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=-]*$")


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative storage key, else raise CONFIG_INVALID."""
    if not key or key.startswith("/") or "\\" in key:
        raise DpError(ErrorCode.CONFIG_INVALID, f"unsafe storage key {key!r}")
    for segment in key.split("/"):
        if not _SEGMENT.match(segment) or ".." in segment:
            raise DpError(
                ErrorCode.CONFIG_INVALID, f"unsafe storage key {key!r} (segment {segment!r})"
            )
    return key


def video_prefix(root: str, partition_key: str) -> str:
    """`<root>/<platform>/<video>`: every run's objects of one video under `root`."""
    platform, slug = parse_partition_key(partition_key)
    return validate_key(f"{root}/{platform}/{slug}")


def _run_prefix(root: str, partition_key: str, run_id: str) -> str:
    platform, slug = parse_partition_key(partition_key)
    return validate_key(f"{root}/{platform}/{slug}/{run_id}")


def result_prefix(partition_key: str, run_id: str) -> str:
    return _run_prefix("result_store", partition_key, run_id)


def artifact_key(partition_key: str, run_id: str, component: str) -> str:
    return validate_key(f"{result_prefix(partition_key, run_id)}/{component}.npz")


def manifest_key(partition_key: str, run_id: str) -> str:
    return validate_key(f"{result_prefix(partition_key, run_id)}/manifest.json")


def state_prefix(partition_key: str, run_id: str) -> str:
    return _run_prefix("state", partition_key, run_id)


def state_events_key(partition_key: str, run_id: str) -> str:
    return f"{state_prefix(partition_key, run_id)}/state_events.jsonl"


def state_checkpoint_key(partition_key: str, run_id: str) -> str:
    return f"{state_prefix(partition_key, run_id)}/state.json"


def frames_prefix(partition_key: str, run_id: str) -> str:
    return _run_prefix("frames_dir", partition_key, run_id)
