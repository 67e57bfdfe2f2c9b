"""One writer per video, across homes and machines: a lease held where every writer meets.

- **PostgreSQL instance** (production, any number of homes and machines on one database): a
  session-level advisory lock per video on a connection of its own. PostgreSQL drops it the
  moment that connection ends — the holder exits, crashes or is killed with SIGKILL — and
  advisory locks leave no row behind.
- **SQLite instance with a folder storage** (a laptop; two homes may share the folder): an
  exclusive `flock` on one of 4096 lock files under `<storage>/.dp-leases/`, chosen by the
  video's hash. The kernel releases it when its holder dies; the files are a fixed set, not
  one per video (two videos that share a file wait for each other, rarely and briefly).
- **SQLite instance with S3 storage**: a laptop home has no database other homes see, and
  SeaweedFS/MinIO conditional writes cannot expire with their holder; such a home is one
  writer only with itself (the same 4096 files, in the home). Share one PostgreSQL to run
  several machines against one bucket (docs/PRODUCTION.md).

Leases are taken in sorted order (two overlapping batches never deadlock); a writer that
finds a video leased says who holds it and waits.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from dagster import DagsterInstance

from dp_core.hashing import sha256_bytes
from dp_resources.storage.backends import LocalStorage, Storage

STRIPES = 4096
Echo = Callable[[str], None]


def lease_owner(label: str) -> str:
    """Who holds a lease, as a waiting writer reads it."""
    return f"{label} (pid {os.getpid()} on {socket.gethostname()})"


def open_leases(
    instance: DagsterInstance, storage: Storage, keys: Sequence[str], owner: str
) -> VideoLeases:
    """The lease kind for this instance and storage (see the module's docstring)."""
    postgres_url = getattr(instance.run_storage, "postgres_url", None)
    if postgres_url:
        return PostgresLeases(postgres_url, keys, owner)
    folder = (
        storage.root / ".dp-leases"
        if isinstance(storage, LocalStorage)
        else Path(instance.root_directory) / "leases"
    )
    return FileLeases(folder, keys, owner)


def _lock_id(key: str) -> int:
    """A signed 64-bit advisory-lock id for a video."""
    return int.from_bytes(bytes.fromhex(sha256_bytes(f"dp-video:{key}".encode())[:16]), "big") - (
        1 << 63
    )


class LeaseHeld(Exception):
    """A video's lease is held by another writer and the caller chose not to wait."""

    def __init__(self, key: str, holder: str):
        super().__init__(f"{key} is being written by {holder}")
        self.key, self.holder = key, holder


class VideoLeases(ABC):
    def __init__(self, keys: Sequence[str], owner: str):
        self.keys = sorted(set(keys))
        self.owner = owner

    @abstractmethod
    def acquire(self, echo: Echo, wait: bool = True) -> None:
        """Take every video's lease; a held one is waited for, or with `wait=False` raises
        `LeaseHeld` (after letting go of the ones taken)."""

    @abstractmethod
    def release(self) -> None: ...

    def __enter__(self) -> VideoLeases:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class PostgresLeases(VideoLeases):
    """Advisory locks on a dedicated connection; its application_name names the owner."""

    def __init__(self, postgres_url: str, keys: Sequence[str], owner: str):
        super().__init__(keys, owner)
        self.url = postgres_url.replace("postgresql+psycopg2://", "postgresql://")
        self._connection = None

    def acquire(self, echo: Echo, wait: bool = True) -> None:
        import psycopg2

        self._connection = psycopg2.connect(
            self.url, application_name=f"dp lease: {self.owner}"[:63]
        )
        self._connection.autocommit = True
        with self._connection.cursor() as cursor:
            for key in self.keys:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", (_lock_id(key),))
                if cursor.fetchone()[0]:
                    continue
                holder = self._holder(cursor, key)
                if not wait:
                    self.release()
                    raise LeaseHeld(key, holder)
                echo(f"  … {key} is being written by {holder}: waiting")
                cursor.execute("SELECT pg_advisory_lock(%s)", (_lock_id(key),))

    @staticmethod
    def _holder(cursor, key: str) -> str:
        lock_id = _lock_id(key)
        cursor.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = %s AND l.objid = %s LIMIT 1",
            ((lock_id >> 32) & 0xFFFFFFFF, lock_id & 0xFFFFFFFF),
        )
        row = cursor.fetchone()
        return (row[0] if row else "another writer").removeprefix("dp lease: ")

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()  # ends the session: every lock it held goes with it
            self._connection = None


class FileLeases(VideoLeases):
    """flock on a fixed set of lock files; each holds its owner while locked."""

    def __init__(self, folder: Path, keys: Sequence[str], owner: str):
        super().__init__(keys, owner)
        self.folder = folder
        self._handles: list[IO[str]] = []

    def _stripes(self) -> list[tuple[int, list[str]]]:
        stripes: dict[int, list[str]] = {}
        for key in self.keys:
            stripes.setdefault(_lock_id(key) % STRIPES, []).append(key)
        return sorted(stripes.items())

    def acquire(self, echo: Echo, wait: bool = True) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stripe, keys in self._stripes():
            handle = open(self.folder / f"{stripe:04d}.lock", "a+")  # noqa: SIM115 - held
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                text = handle.read().strip()
                holder = json.loads(text).get("owner") if text.startswith("{") else None
                if not wait:
                    handle.close()
                    self.release()
                    raise LeaseHeld(keys[0], holder or "another writer") from None
                echo(f"  … {keys[0]} is being written by {holder or 'another writer'}: waiting")
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"owner": self.owner}))
            handle.flush()
            self._handles.append(handle)

    def release(self) -> None:
        for handle in reversed(self._handles):
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        self._handles.clear()
