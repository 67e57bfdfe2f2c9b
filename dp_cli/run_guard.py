"""What keeps `dp` runs on one machine from stepping on each other.

- `init_lock(home)`: initialising a fresh Dagster home (SQLite schema migrations) is done by
  one process at a time; a second `dp process` waits instead of crashing on the alembic
  table it raced to create.
- `VideoLocks`: one writer per video. A run holds an exclusive `flock` per video of its
  batch (taken in sorted order, so two overlapping batches never deadlock); a second `dp
  process` touching a video waits for it and says which run holds it. The kernel releases
  a lock when its holder dies, so a killed run never leaves a stale lock behind.
- `fail_orphaned_runs`: a run `dp process` started stays STARTED forever when that process
  is killed; the next `dp` on the same home marks it FAILURE, naming the dead process.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dp_core.hashing import sha256_bytes

PID_TAG = "dp/pid"
HOST_TAG = "dp/host"
ACTIVE = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED]


def process_tags() -> dict[str, str]:
    """Tags that let a later `dp` tell whether the process running a run is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


@contextmanager
def init_lock(home: Path) -> Iterator[None]:
    with open(home / ".init.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphaned_runs(instance: DagsterInstance) -> list[str]:
    """Mark FAILURE every active run of this host whose `dp` process is gone; returns
    their run ids. Runs without our tags (daemon-launched, UI) are left to run monitoring."""
    host = socket.gethostname()
    failed = []
    for run in instance.get_runs(RunsFilter(statuses=ACTIVE)):
        pid = run.tags.get(PID_TAG)
        if run.tags.get(HOST_TAG) != host or not pid or not pid.isdigit():
            continue
        if int(pid) == os.getpid() or _alive(int(pid)):
            continue
        instance.report_run_failed(
            run,
            f"the dp process that ran it (pid {pid} on {host}) is gone (killed or crashed); "
            "marked failed by the next dp on this Dagster home",
        )
        failed.append(run.run_id)
    return failed


class VideoLocks:
    """Exclusive per-video locks under `<home>/locks/` for the videos of one run."""

    def __init__(self, home: Path, partition_keys: Sequence[str], run_id: str):
        self.folder = home / "locks"
        self.keys = sorted(set(partition_keys))
        self.run_id = run_id
        self._handles: list[IO[str]] = []

    def _path(self, key: str) -> Path:
        return self.folder / f"{sha256_bytes(key.encode())[:32]}.lock"

    def acquire(self, echo: Callable[[str], None]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for key in self.keys:
            handle = open(self._path(key), "a+")  # noqa: SIM115 - held until release()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "{}"
                owner = json.loads(holder) if holder.startswith("{") else {}
                echo(
                    f"  … {key} is being written by run {owner.get('run_id', '?')} "
                    f"(pid {owner.get('pid', '?')}): waiting for it to finish"
                )
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"run_id": self.run_id, "pid": os.getpid(), "video": key}))
            handle.flush()
            self._handles.append(handle)

    def release(self) -> None:
        for handle in reversed(self._handles):
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        self._handles.clear()

    def __enter__(self) -> VideoLocks:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
