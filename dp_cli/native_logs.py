"""Keep C/C++ library log lines (MediaPipe's absl/glog, TF Lite's INFO) out of `dp` output.

Those libraries write straight to file descriptor 2 from native code, at model load and at
their first inference, whatever Python's logging says. While a command runs, fd 2 points at
a log file in the Dagster home, and Python's `sys.stderr` at a copy of the original fd 2:
our own messages, warnings and tracebacks still reach the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

NATIVE_LOG = Path("logs") / "native.log"  # under the Dagster home


@contextmanager
def native_stderr_to(log_path: Path) -> Iterator[Path]:
    """Native writes to fd 2 go to `log_path` (appended) inside the block."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal = os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    python_stderr = sys.stderr
    sys.stderr = open(  # noqa: SIM115 - closed below, after fd 2 is back
        terminal, "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace"
    )
    try:
        yield log_path
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        sys.stderr.close()  # closes `terminal`
        sys.stderr = python_stderr


DAGSTER_LOG = Path("logs") / "dagster.log"  # under the Dagster home


@contextmanager
def quiet_stderr(home: Path) -> Iterator[TextIO]:
    """A quiet terminal for a command that runs Dagster: native writes to fd 2 go to
    `<home>/logs/native.log`, and Python's `sys.stderr` (Dagster's console logger, warnings,
    step failures with their stack traces) to `<home>/logs/dagster.log`, both appended.
    Yields the terminal's stderr, for the command's own messages (one line per failed
    video, errors). Dagster's console handler looks `sys.stderr` up at every record."""
    with native_stderr_to(home / NATIVE_LOG):
        terminal = sys.stderr
        log_path = home / DAGSTER_LOG
        log = open(  # noqa: SIM115 - closed below, after sys.stderr is back
            log_path, "a", buffering=1, encoding="utf-8", errors="backslashreplace"
        )
        sys.stderr = log
        try:
            yield terminal
        finally:
            sys.stderr = terminal
            log.close()
