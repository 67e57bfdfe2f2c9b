"""Atomic publication of local files and folders: a reader sees the old thing or the new one.

A file is written to a temp file in the target's folder, flushed to disk (fsync) and moved
over the target with one `os.replace`; on any failure the temp file is removed and the old
file stays. A folder is filled under a staging name beside its target and appears by one
rename. Temp names start with `TEMP_PREFIX`, so listings can skip them.

Permissions, decided here once: published files get 0o666 & ~umask and folders
0o777 & ~umask, as `open()` and `mkdir` would give them (`tempfile.mkstemp` and `mkdtemp`
would give 0o600 / 0o700). The kernel applies the umask: temp files and folders are created
with those modes, never read from or written to the process umask.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".tmp-"
FILE_MODE = 0o666  # before the umask
DIR_MODE = 0o777  # before the umask
_COPY_CHUNK = 8 << 20


def publish_stream(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Publish at `path` whatever `write(file)` writes; the parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def publish_bytes(path: str | os.PathLike, data: bytes) -> None:
    publish_stream(path, lambda f: f.write(data))


def publish_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    publish_bytes(path, text.encode(encoding))


def publish_copy(source: str | os.PathLike, path: str | os.PathLike) -> None:
    """Publish a copy of the file `source` at `path`, streamed (it may not fit in memory)."""
    with open(source, "rb") as src:
        publish_stream(path, lambda f: _copy_stream(src, f))


@contextmanager
def staging_dir(target: str | os.PathLike) -> Iterator[Path]:
    """A new empty folder beside `target` to fill and then `publish_dir`; it is removed when
    the block fails, or when it ends without the folder having been published."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _create_temp_dir(target)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_dir(staging: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the filled `staging` folder to `target`: a new folder appears by one rename; an
    existing one is first renamed aside and removed after, so `target` is missing only
    between two renames and never holds a mix of old and new files."""
    staging, target = Path(staging), Path(target)
    if not target.exists():
        os.rename(staging, target)
        return
    aside = _temp_name(target)
    os.rename(target, aside)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _copy_stream(src: BinaryIO, dst: BinaryIO) -> None:
    shutil.copyfileobj(src, dst, _COPY_CHUNK)


def _temp_name(target: Path) -> Path:
    return target.with_name(f"{TEMP_PREFIX}{target.name}.{secrets.token_hex(6)}")


def _create_temp_file(target: Path) -> tuple[int, Path]:
    while True:
        tmp = _temp_name(target)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), tmp
        except FileExistsError:
            continue


def _create_temp_dir(target: Path) -> Path:
    while True:
        tmp = _temp_name(target)
        try:
            tmp.mkdir(DIR_MODE)
            return tmp
        except FileExistsError:
            continue
