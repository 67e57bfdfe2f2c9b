"""What keeps `dp` runs on one machine from stepping on each other.

- `init_lock(home)`: initialising a fresh Dagster home (SQLite schema migrations) is done by
  one process at a time; a second `dp process` waits instead of crashing on the alembic
  table it raced to create.
- One writer per video is a lease where every writer meets (dp_assets/leases.py), not a
  lock of this home.
- `fail_orphaned_runs`: a run `dp process` started stays STARTED forever when that process
  is killed; the next `dp` on the same home marks it FAILURE, naming the dead process.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

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
