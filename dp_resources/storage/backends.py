"""Object storage over a local folder or an S3-compatible bucket, behind one interface.

Keys are relative '/'-separated paths (validated by `dp_core.storage_keys`). Every write is
atomic: a reader sees either nothing or the whole object, never a half-written one (local
folder: `atomic_files`, whose temp files no key names; S3: a PUT is atomic).
A missing key raises `FileNotFoundError`; any other backend failure raises
`DpError(STORAGE_ERROR)` (transient: worth a retry).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dp_core.errors import DpError, ErrorCode
from dp_core.storage_keys import validate_key
from dp_resources.storage.atomic_files import TEMP_PREFIX, publish_bytes, publish_copy


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    # changes whenever the object's bytes may have changed: the ETag (S3: a digest of the
    # content); mtime, ctime and inode (folder: ctime moves on every write, no writer can
    # set it back)
    version: str = ""


class Storage(ABC):
    """Object storage. `base` is what a user typed: a folder or `s3://bucket/prefix`."""

    base: str

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Upload a local file (large objects: streamed, multipart on S3)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def get_file(self, key: str, path: Path) -> None:
        """Download an object to a local file, streamed (a video can be larger than memory);
        `FileNotFoundError` if it does not exist."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size of an object; `FileNotFoundError` if it does not exist."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[str]:
        """Keys under `prefix` (a folder-like prefix, without trailing '/'), sorted."""

    def list_page(self, prefix: str, start_after: str, limit: int) -> list[str]:
        """At most `limit` keys under `prefix`, sorted, each greater than `start_after` (a
        key as `list` returns it; "" for the first page): paging through a large listing.
        Backends override it to avoid listing everything."""
        return [key for key in self.list(prefix) if key > start_after][:limit]

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        """Size and version of every object under `prefix` (what `head` says of each), in
        as few requests as the backend allows: one listing instead of a HEAD per object."""
        for key in self.list(prefix):
            try:
                yield self.head(key)
            except FileNotFoundError:
                continue  # deleted between the listing and the HEAD

    @abstractmethod
    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except FileNotFoundError:
            return False
        return True

    def check_reachable(self) -> None:
        """One read-only request proving the storage answers (health probes); raises
        STORAGE_ERROR (or CONFIG_INVALID for credentials) otherwise."""
        self.exists("_health")

    def describe(self) -> dict:
        """What a manifest may record about this storage: never an absolute local path."""
        return {"kind": "local"}


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        self.base = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with _storage_errors(f"cannot write {path}"):
            publish_bytes(path, data)

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        if not Path(path).exists():  # the caller's mistake, not a storage failure
            raise FileNotFoundError(f"no file {path} to store as {key!r}")
        with _storage_errors(f"cannot write {target}"):
            publish_copy(path, target)

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFoundError(f"no object {key!r} in {self.base}") from None
        except OSError as exc:
            raise DpError(ErrorCode.STORAGE_ERROR, f"cannot read {path}: {exc}") from exc

    def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.base}")
        with _storage_errors(f"cannot copy {source} to {path}"):
            publish_copy(source, path)

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.base}")
        return _info(key, path.stat())

    def list_info(self, prefix: str) -> Iterator[ObjectInfo]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return
        for path in folder.rglob("*"):
            if path.name.startswith(TEMP_PREFIX):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path.is_file():
                yield _info(path.relative_to(self.root).as_posix(), stat)

    def list(self, prefix: str) -> Iterator[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return iter(())
        keys = (
            p.relative_to(self.root).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(TEMP_PREFIX)
        )
        return iter(sorted(keys))

    def list_page(self, prefix: str, start_after: str, limit: int) -> list[str]:
        folder = self._path(prefix)
        keys: list[str] = []
        if folder.is_dir() and limit > 0:
            self._walk_sorted(folder, prefix, start_after, limit, keys)
        return keys

    def _walk_sorted(self, folder: Path, key: str, after: str, limit: int, out: list) -> None:
        """Keys under `folder` in full-key order, skipping whole subtrees <= `after`.
        Entries sort by name, a folder's as `name/` (exactly the order of the full keys)."""
        with os.scandir(folder) as scan:
            entries = sorted(
                (e.name + "/" if e.is_dir() else e.name, e)
                for e in scan
                if not e.name.startswith(TEMP_PREFIX)
            )
        for name, entry in entries:
            if len(out) >= limit:
                return
            path = f"{key}/{name}"
            if name.endswith("/"):
                if path < after and not after.startswith(path):
                    continue  # every key inside sorts before `after`
                self._walk_sorted(Path(entry.path), path[:-1], after, limit, out)
            elif path > after and entry.is_file():
                out.append(path)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _info(key: str, stat: os.stat_result) -> ObjectInfo:
    version = f"{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"
    return ObjectInfo(key=key, size=stat.st_size, version=version)


@contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    """An OSError (disk full, permission denied) becomes a transient STORAGE_ERROR."""
    try:
        yield
    except OSError as exc:
        raise DpError(ErrorCode.STORAGE_ERROR, f"{what}: {exc}") from exc


def open_storage(base: str, **s3_options) -> Storage:
    """A Storage for a folder path or an `s3://bucket/prefix` URL."""
    if base.startswith("s3://"):
        from dp_resources.storage.s3 import S3Storage

        return S3Storage.from_url(base, **s3_options)
    return LocalStorage(base)
