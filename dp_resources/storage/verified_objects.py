"""Is object `key` in this storage, and are its bytes the ones a writer recorded (sha256)?

Reuse and `dp verify` ask this of the storage they work on, never of the event log. A full
check reads the object and hashes it. To keep that cheap at scale, a verified object is
remembered by what the storage says of it without reading it — its size and version
(S3: ETag + LastModified; folder: mtime, ctime and inode, and ctime cannot be set back by a
writer) — in a small SQLite file on this machine. Asking again costs one HEAD (one `stat` on
a folder): any rewrite, a flipped byte included, changes the version and the next ask reads
and hashes the object again. A miss (another machine, a new cache) only costs a read.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes
from dp_resources.storage.backends import ObjectInfo, Storage

_SCHEMA = """CREATE TABLE IF NOT EXISTS verified (
    storage TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, version TEXT NOT NULL,
    sha256 TEXT NOT NULL, PRIMARY KEY (storage, key))"""


class VerifiedCache:
    """(storage base, key) -> (size, version, sha256) of an object whose bytes were hashed."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            # a lost entry after a power cut costs one re-read, never a wrong verdict
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)

    def known(self, storage: str, key: str, size: int, version: str) -> str | None:
        """The sha256 hashed for this object while it had this size and version, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT sha256 FROM verified WHERE storage=? AND key=? AND size=? AND version=?",
                (storage, key, size, version),
            ).fetchone()
        return row[0] if row else None

    def remember(self, storage: str, key: str, size: int, version: str, sha256: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO verified VALUES (?, ?, ?, ?, ?)",
                (storage, key, size, version, sha256),
            )

    def close(self) -> None:
        self._db.close()


class ObjectVerifier:
    """Checks objects of one storage against the sha256 their writer recorded."""

    def __init__(self, storage: Storage, cache: VerifiedCache | None = None):
        self.storage, self.cache = storage, cache
        self.bytes_read = 0  # what the checks cost: bytes hashed (cache misses)
        self.heads = 0
        self._listed: dict[str, ObjectInfo] = {}
        self._listed_prefixes: list[str] = []

    def prefetch(self, prefix: str) -> None:
        """List `prefix` once (S3: one request per 1000 objects): later checks of keys under
        it take size and version from the listing instead of a HEAD each."""
        self._listed.update((info.key, info) for info in self.storage.list_info(prefix))
        self._listed_prefixes.append(prefix.rstrip("/") + "/")

    def forget_listings(self) -> None:
        self._listed.clear()
        self._listed_prefixes.clear()

    def _info(self, key: str) -> ObjectInfo:
        if any(key.startswith(prefix) for prefix in self._listed_prefixes):
            if key not in self._listed:
                raise FileNotFoundError(key)
            return self._listed[key]
        self.heads += 1
        return self.storage.head(key)

    def problem(self, key: str, sha256: str) -> str | None:
        """None when `key` exists and hashes to `sha256`; otherwise why not, naming the key.
        An unreachable storage raises STORAGE_ERROR (not a verdict on the object)."""
        if not key or not sha256:
            return f"{key or 'an artifact'}: no recorded digest"
        try:
            info = self._info(key)
        except FileNotFoundError:
            return f"{key}: missing from {self.storage.base}"
        base = self.storage.base
        if self.cache and self.cache.known(base, key, info.size, info.version) == sha256:
            return None
        try:
            data = self.storage.get_bytes(key)
        except FileNotFoundError:
            return f"{key}: missing from {self.storage.base}"
        self.bytes_read += len(data)
        actual = sha256_bytes(data)
        if actual != sha256:
            return f"{key}: sha256 {actual[:12]}… does not match the recorded {sha256[:12]}…"
        if self.cache:
            self.cache.remember(base, key, info.size, info.version, sha256)
        return None

    def require(self, key: str, sha256: str) -> None:
        """`problem`, raised as INPUT_CORRUPT (missing: INPUT_NOT_FOUND)."""
        why = self.problem(key, sha256)
        if why is not None:
            code = ErrorCode.INPUT_NOT_FOUND if "missing from" in why else ErrorCode.INPUT_CORRUPT
            raise DpError(code, why)
