"""`dataprocessor_version`: the package version plus the git sha where it is known."""

from __future__ import annotations

import functools
import os
import subprocess
from importlib import metadata
from pathlib import Path


@functools.cache
def dataprocessor_version() -> str:
    """`0.1.0+g1a2b3c4d` (with `.dirty` for uncommitted changes), `0.1.0`, or `unknown`."""
    try:
        version = metadata.version("dataprocessor")
    except metadata.PackageNotFoundError:
        return "unknown"
    sha = os.environ.get("DP_GIT_SHA") or _git_sha()
    return f"{version}+g{sha}" if sha else version


def _git_sha() -> str | None:
    repo = Path(__file__).resolve().parent.parent
    if not (repo / ".git").exists():
        return None
    try:
        sha = _git(repo, "rev-parse", "--short=10", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}.dirty" if dirty else sha


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=5, check=True
    )
    return done.stdout.strip()
