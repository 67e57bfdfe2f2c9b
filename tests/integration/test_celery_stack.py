"""The production stack on loopback: PostgreSQL instance (deploy/dagster.prod.yaml), a real
`dagster-daemon` running the uploads sensor and the run queue, two real Celery workers (`cpu`
and `gpu` queues) on a real Redis, and SeaweedFS as the bucket. Videos are uploaded to the
bucket; the tests watch them get registered, batched, run across both queues, and their
manifests land in the bucket, readable by a second client that knows only the bucket."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from dp_assets.components import catalog
from dp_assets.definitions import PROCESS_JOB
from dp_assets.partitions import VIDEOS
from dp_assets.run_records import run_partition_keys
from dp_core.storage_keys import manifest_key
from dp_resources.storage.s3 import S3Storage
from tests.fixtures.celery_workers import (
    REPO,
    ManagedProcess,
    Worker,
    start_daemon,
    start_worker,
    wait_ready,
)
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration

pytest_plugins = ["tests.fixtures.postgres_server", "tests.fixtures.redis_server"]

STORE_PREFIX = "store"
BATCH_MAX_VIDEOS = 2
BATCH_WAIT_S = 3
RUN_TIMEOUT_S = 150.0
LOST_WORKER_BOUND_S = 30.0  # a killed worker process to the run's FAILURE, on a busy machine
# Two CPU components and one model component (-> gpu queue): enough to see both queues work.
PROFILE = {
    "name": "stack_test",
    "description": "production-stack test: small and fast",
    "analysis": {"fps": 2.0, "width": 160, "height": 160},
    "components": {
        "segmenter": {"required": True},
        "loudness_extractor": {"required": True},
        "speech_activity": {"required": False},
    },
}


@dataclass
class Stack:
    instance: DagsterInstance
    bucket: str
    storage: S3Storage  # the workers' storage (prefix `store`)
    reader: S3Storage  # a second client: only the bucket address and keys
    cpu: Worker
    gpu: Worker
    daemon: ManagedProcess
    clips: Path

    def upload(self, name: str, clip: Path, sidecar: dict | None = None) -> None:
        self.storage.put_file(f"uploads/{name}", clip)
        if sidecar is not None:
            sidecar_name = Path(name).with_suffix(".json").name
            self.storage.put_bytes(f"uploads/{sidecar_name}", json.dumps(sidecar).encode())

    def runs(self) -> list:
        return list(self.instance.get_runs(RunsFilter(job_name=PROCESS_JOB)))

    def logs(self) -> str:
        return "\n\n".join(
            f"--- {p.name}\n{p.log_tail()}" for p in (self.daemon, self.cpu, self.gpu)
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory, postgres_server, redis_server, s3_server):
    postgres_server = postgres_server.create_database("stack")
    root = tmp_path_factory.mktemp("stack")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.prod.yaml", home / "dagster.yaml")
    profile = root / "stack_test.yaml"
    profile.write_text(yaml.safe_dump(PROFILE))
    bucket = s3_server.make_bucket("stack")
    env = {
        **os.environ,
        **postgres_server.env(),
        "DAGSTER_HOME": str(home),
        "DP_STORAGE": f"s3://{bucket}/{STORE_PREFIX}",
        "DP_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "DP_S3_ACCESS_KEY": s3_server.access_key,
        "DP_S3_SECRET_KEY": s3_server.secret_key,
        "DP_PROFILE": str(profile),
        "DP_EXECUTOR": "celery",
        "DP_CELERY_BROKER_URL": redis_server.url(1),
        "DP_CELERY_BACKEND_URL": redis_server.url(2),
        "DP_BATCH_MAX_VIDEOS": str(BATCH_MAX_VIDEOS),
        "DP_BATCH_WAIT_S": str(BATCH_WAIT_S),
        "DP_UPLOADS_SENSOR_INTERVAL_S": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    logs = root / "logs"
    logs.mkdir()
    started: list[ManagedProcess] = []
    try:
        # Started together (each takes seconds to import Dagster); runs wait in the queue.
        started.append(start_worker("cpu", env, logs, concurrency=2))
        started.append(start_worker("gpu", env, logs, concurrency=1))
        started.append(start_daemon(env, logs, REPO / "workspace.yaml"))
        for worker in started[:2]:
            wait_ready(worker)
        for key, value in postgres_server.env().items():
            os.environ[key] = value  # the test's own instance reads the same yaml
        instance = DagsterInstance.from_config(str(home))
        storage = S3Storage.from_url(
            f"s3://{bucket}/{STORE_PREFIX}",
            endpoint_url=s3_server.endpoint_url,
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
        )
        reader = S3Storage.from_url(
            f"s3://{bucket}",
            endpoint_url=s3_server.endpoint_url,
            access_key=s3_server.access_key,
            secret_key=s3_server.secret_key,
        )
        clips = root / "clips"
        yield Stack(instance, bucket, storage, reader, *started, clips)
        instance.dispose()
    finally:
        for process in reversed(started):
            process.stop()
        for key in postgres_server.env():
            os.environ.pop(key, None)


def wait_for_runs(stack: Stack, count: int, timeout_s: float = RUN_TIMEOUT_S) -> list:
    """The first `count` process runs, once every one of them has finished."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = stack.runs()
        if len(runs) >= count and all(r.is_finished for r in runs):
            return sorted(runs, key=lambda r: r.tags["dagster/asset_partition_range_start"])
        time.sleep(0.5)
    states = []
    for run in stack.runs():
        records = stack.instance.get_records_for_run(run.run_id).records[-8:]
        messages = [r.event_log_entry.message[:300] for r in records]
        states.append(f"{run.run_id} {run.status.value}: " + "\n  ".join(messages))
    pytest.fail(
        f"{count} run(s) not finished after {timeout_s:.0f} s:\n"
        + "\n".join(states)
        + f"\n{stack.logs()}"
    )


def wait_for_object(storage: S3Storage, key: str, timeout_s: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return storage.get_bytes(key)
        except FileNotFoundError:
            time.sleep(0.5)
    pytest.fail(f"{key} not in the bucket after {timeout_s:.0f} s")


def step_hosts(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    """step key -> the Celery worker hostname that executed it (dagster-celery's own event)."""
    hosts = {}
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is None or event.event_type != DagsterEventType.ENGINE_EVENT:
            continue
        metadata = event.engine_event_data.metadata or {}
        if "Celery worker" in metadata:
            hosts[event.step_key] = metadata["Celery worker"].value
    return hosts


def test_workers_are_healthy(stack):
    for worker in (stack.cpu, stack.gpu):
        code, body = worker.health()
        assert code == 200, body
        assert body["failing"] == []
        assert {c["part"] for c in body["checks"]} == {"redis", "storage"}
        code, body = worker.health("/health/live")
        assert (code, body["status"]) == (200, "alive")


def test_uploads_are_batched_and_run_across_both_queues(stack):
    names = ["clip-a.mp4", "clip-b.mp4", "clip-c.mp4"]
    for index, name in enumerate(names):
        clip = make_clip(
            stack.clips / name, ClipSpec(duration_s=1.0 + index, width=160, height=120)
        )
        sidecar = {"platform": "youtube", "video_id": "vid-b"} if name == "clip-b.mp4" else None
        stack.upload(name, clip, sidecar)

    runs = wait_for_runs(stack, 2)

    expected = ["local__clip-a", "youtube__vid-b", "local__clip-c"]
    assert stack.instance.get_dynamic_partitions(VIDEOS) == expected
    batches = [run_partition_keys(stack.instance, run.tags) for run in runs]
    assert batches == [expected[:2], expected[2:]]  # 2 at once, the third after the wait
    assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS] * 2, stack.logs()
    for run in runs:
        hosts = step_hosts(stack.instance, run.run_id)
        components = set(PROFILE["components"])
        assert set(hosts) == components  # each step reports its own status check
        for step in components:
            assert hosts[step] == f"{catalog()[step].queue}@dp-test", (step, hosts[step])
        assert hosts["speech_activity"] == "gpu@dp-test"
        for partition in run_partition_keys(stack.instance, run.tags):
            key = f"{STORE_PREFIX}/{manifest_key(partition, run.run_id)}"
            manifest = json.loads(wait_for_object(stack.reader, key))
            assert manifest["video"]["partition_key"] == partition
            assert manifest["run"]["dagster_run_status"] == "SUCCESS"
            assert manifest["run"]["status"] == "success"
            by_name = {c["name"]: c for c in manifest["components"]}
            for component in PROFILE["components"]:
                assert by_name[component]["status"] in ("success", "empty"), by_name[component]
                artifact = stack.reader.get_bytes(
                    f"{STORE_PREFIX}/{by_name[component]['artifact_key']}"
                )
                with np.load(io.BytesIO(artifact), allow_pickle=False) as npz:
                    assert npz.files


def test_worker_killed_mid_step_fails_the_run_cleanly(stack):
    before = {r.run_id for r in stack.runs()}
    clip = make_clip(stack.clips / "long.mp4", ClipSpec(duration_s=40.0, texture=True))
    stack.upload("long.mp4", clip)

    deadline = time.monotonic() + RUN_TIMEOUT_S
    killed = None
    while killed is None and time.monotonic() < deadline:
        new = [r for r in stack.runs() if r.run_id not in before]
        for record in stack.instance.get_records_for_run(new[0].run_id).records if new else []:
            event = record.event_log_entry.dagster_event
            if event and event.is_step_start and event.step_key == "segmenter":
                killed = event.pid
        if killed is None:
            time.sleep(0.1)
    assert killed is not None, stack.logs()
    assert killed in stack.cpu.pool_pids()  # the segmenter runs in a cpu worker process
    os.kill(killed, signal.SIGKILL)
    killed_at = time.time()

    run = next(r for r in wait_for_runs(stack, len(before) + 1) if r.run_id not in before)
    assert run.status == DagsterRunStatus.FAILURE
    # The run worker learns of the loss from Celery (WorkerLostError) within a poll tick:
    # the run ends in seconds, never left STARTED (issue 15).
    ended_at = stack.instance.get_run_record_by_id(run.run_id).end_time
    assert ended_at - killed_at < LOST_WORKER_BOUND_S, ended_at - killed_at
    failure = [
        r.event_log_entry.dagster_event
        for r in stack.instance.get_records_for_run(run.run_id).records
        if r.event_log_entry.dagster_event and r.event_log_entry.dagster_event.is_run_failure
    ]
    assert failure
    message = failure[0].event_specific_data.error.to_string()
    assert "segmenter" in failure[0].message and "WorkerLostError" in message, failure[0]
    [step_failure] = [
        r.event_log_entry.dagster_event
        for r in stack.instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.STEP_FAILURE
        ).records
    ]
    assert step_failure.step_key == "segmenter"
    assert "WorkerLostError" in step_failure.event_specific_data.error.to_string()
    # Nothing half-written: every object of the run is whole (NPZ decode, JSON parse).
    (partition,) = run_partition_keys(stack.instance, run.tags)
    for key in stack.reader.list(f"{STORE_PREFIX}/{partition}"):
        if run.run_id not in key:
            continue
        data = stack.reader.get_bytes(key)
        if key.endswith(".npz"):
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                [npz[name] for name in npz.files]
        elif key.endswith(".json"):
            json.loads(data)
    manifest = json.loads(
        wait_for_object(stack.reader, f"{STORE_PREFIX}/{manifest_key(partition, run.run_id)}")
    )
    assert manifest["run"]["dagster_run_status"] == "FAILURE"
    segmenter = next(c for c in manifest["components"] if c["name"] == "segmenter")
    assert segmenter["status"] in ("error", "skipped")
    # The worker survives the loss of a pool process and takes the next task.
    code, body = stack.cpu.health()
    assert code == 200, body
