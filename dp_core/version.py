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
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=10", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}.dirty" if dirty else sha
