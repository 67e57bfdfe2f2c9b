"""`dp process` runs on one machine never step on each other: a fresh home initialised by
two at once, one writer per video, and a killed run marked failed by the next `dp`."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from dp_cli.run_guard import init_lock
from dp_core.artifact import decode_artifact
from dp_core.manifest import Manifest
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
    # one writer per video: the second waited for the first, then found it up to date
    with DagsterInstance.from_config(str(tmp_path / ".dp" / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].status == DagsterRunStatus.SUCCESS
    assert sum("up to date" in output for output in outputs) == 1


def materialized(home, run_id):
    with init_lock(home), DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_records_for_run(
            run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
        ).records
        return {r.event_log_entry.dagster_event.asset_key.path[-1] for r in records}


def arrays_of(folder, manifest):
    return {
        c.name: decode_artifact((folder / ".dp" / "storage" / c.artifact_key).read_bytes()).arrays
        for c in manifest.components
        if c.artifact_key
    }


def test_a_killed_run_is_marked_failed_and_the_rerun_resumes_it(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    for folder in (killed, clean):
        make_clip(folder / "v.mp4", ClipSpec(duration_s=8.0, texture=True))
    process = start(killed, "v.mp4")
    home = killed / ".dp" / "dagster_home"
    deadline = time.monotonic() + 180
    started = None
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if not (home / "dagster.yaml").exists():
            continue
        if started is None:
            with init_lock(home), DagsterInstance.from_config(str(home)) as instance:
                runs = instance.get_runs()
                started = runs[0].run_id if runs else None
        if started and "segmenter" in materialized(home, started):
            break
    assert started and "segmenter" in materialized(home, started), "segmenter never finished"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done_before = materialized(home, started)

    done = subprocess.run(
        [DP, "process", "v.mp4", "--json"],
        cwd=killed,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"run {started}: its dp process is gone; marked failed" in done.stderr
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(started).status == DagsterRunStatus.FAILURE
    [video] = json.loads(done.stdout)["videos"]
    storage = killed / ".dp" / "storage"
    resumed = Manifest.model_validate_json((storage / video["manifest_key"]).read_bytes())
    reused = {c.name for c in resumed.components if c.reused_from_run == started}
    assert "segmenter" in reused and reused <= done_before  # finished work was kept

    uninterrupted = subprocess.run(
        [DP, "process", "v.mp4", "--json"],
        cwd=clean,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    [reference] = json.loads(uninterrupted.stdout)["videos"]
    expected = Manifest.model_validate_json(
        (clean / ".dp" / "storage" / reference["manifest_key"]).read_bytes()
    )
    got, want = arrays_of(killed, resumed), arrays_of(clean, expected)
    assert set(got) == set(want)
    for name, arrays in want.items():
        assert set(got[name]) == set(arrays), name
        for array in arrays:
            np.testing.assert_array_equal(got[name][array], arrays[array], err_msg=name)
