"""`dp process` runs on one machine never step on each other: a fresh home initialised by
two at once, one writer per video, and a killed run marked failed by the next `dp`."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from dp_cli.run_guard import init_lock
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
DP = str(Path(sys.executable).with_name("dp"))


def environment():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DP_"))}
    return env


def start(cwd, *args):
    return subprocess.Popen(
        [DP, "process", *args],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_dp_process_on_a_fresh_home_both_finish(tmp_path):
    make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.0))
    first, second = start(tmp_path, "v.mp4"), start(tmp_path, "v.mp4")
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]
    for process, output in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, output
        assert "Traceback" not in output and "IntegrityError" not in output
    # the same video was written by one run at a time: the second waited for the first
    with DagsterInstance.from_config(str(tmp_path / ".dp" / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        spans = sorted(
            (instance.get_run_stats(r.run_id).start_time, instance.get_run_stats(r.run_id).end_time)
            for r in runs
        )
        assert spans[0][1] <= spans[1][0]  # never both writing local__v


def test_a_killed_run_is_marked_failed_by_the_next_dp(tmp_path):
    make_clip(tmp_path / "long.mp4", ClipSpec(duration_s=20.0, texture=True))
    make_clip(tmp_path / "short.mp4", ClipSpec(duration_s=0.5))
    process = start(tmp_path, "long.mp4")
    home = tmp_path / ".dp" / "dagster_home"
    deadline = time.monotonic() + 120
    started = None
    while time.monotonic() < deadline and started is None:
        time.sleep(0.5)
        if (home / "dagster.yaml").exists():
            with init_lock(home), DagsterInstance.from_config(str(home)) as instance:
                runs = instance.get_runs()
                if runs and runs[0].status == DagsterRunStatus.STARTED:
                    started = runs[0].run_id
    assert started, "the run never started"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    done = subprocess.run(
        [DP, "process", "short.mp4"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"run {started}: its dp process is gone; marked failed" in done.stdout
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(started).status == DagsterRunStatus.FAILURE
