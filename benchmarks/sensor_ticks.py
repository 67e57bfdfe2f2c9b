"""Intake through the uploads sensor (issue 25 goal 2: at least 100k videos an hour on one
daemon), at 10k and 100k uploads, the old settings as the baseline in the same run.

    .venv/bin/python benchmarks/sensor_ticks.py [--sizes 10000 100000] [--ticks 3]
        [--databases sqlite postgres]

For each size: one folder storage holding N small "video" objects (every tenth with a
sidecar); for each database (SQLite: dp_cli's embedded dagster.yaml; PostgreSQL: a private
server as tests/fixtures/postgres_server.py starts it, deploy/dagster.prod.yaml) and each
setting (`old`: runs of 8 videos whatever the backlog, as before issue 25; `new`: the
defaults, batches grown with the backlog up to `batch_max_videos_backlog`), a fresh Dagster
instance and `--ticks` ticks as the daemon runs them:
- `eval`: the sensor's evaluation (listing, seen-key lookups, HEAD + sidecar per upload,
  partition lookups, planning), the part the daemon's sensor timeout (60 s) bounds;
- `daemon`: what the daemon then does with the result, timed as it does it: each upload
  event reported (`report_runless_asset_event`, one at a time), each partition request's
  keys checked (`has_dynamic_partition`; the tick now adds its partitions itself, so none),
  one run created per request (`create_run_for_job` with the request's tags: the execution
  plan, the run row and Dagster's planned events). Measured on the first `--sample-runs`
  runs of the tick and their videos, scaled to all its videos (the cost follows the videos).
A third setting, `new+sub`, is `new` with DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1.
A tick takes max(interval, eval + daemon) (the daemon evaluates a sensor again only after
its previous tick is handled); videos an hour = videos launched / tick time, by wall time
and by CPU time (this process, threads included, plus the PostgreSQL server's processes).
The machine is shared: compare settings of the same run. Not measured: the daemon's gRPC
round trip to the code server and the run coordinator's queue.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore", message=".*is currently in beta")

from dagster import DagsterInstance, build_sensor_context  # noqa: E402

from dp_assets.definitions import PROCESS_JOB, PROFILE_TAG, process_job  # noqa: E402
from dp_assets.run_records import RANGE_END, RANGE_START  # noqa: E402
from dp_assets.upload_sensor import (  # noqa: E402
    UploadCursor,
    UploadSensorSettings,
    build_upload_sensor,
)
from dp_cli.home import EMBEDDED_DAGSTER_YAML  # noqa: E402
from dp_resources.storage.resource import StorageResource  # noqa: E402

GOAL_VIDEOS_PER_HOUR = 100_000
NEW = UploadSensorSettings(prefix="uploads", batch_wait_s=60.0)
OLD = UploadSensorSettings(
    prefix="uploads", batch_max_videos=8, batch_max_videos_backlog=8, batch_wait_s=60.0
)
# Dagster's switch for one ASSET_MATERIALIZATION_PLANNED event per asset and run (the range
# as a subset) instead of one per asset and video; Dagster warns that a failed run's
# partitions are then not marked failed: measured here, not turned on in deploy/
SUBSET_PLANNED_EVENTS = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
PROD_DAGSTER_YAML = REPO / "deploy" / "dagster.prod.yaml"


def make_uploads(root: Path, count: int) -> None:
    folder = root / "uploads"
    for i in range(count):
        sub = folder / f"{i % 100:02d}"  # a bucket-like spread over 100 "folders"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"clip-{i:06d}.mp4").write_bytes(b"not decoded by the sensor")
        if i % 10 == 0:
            (sub / f"clip-{i:06d}.json").write_text(json.dumps({"platform": "youtube"}))


@dataclass
class Tick:
    eval_s: float
    eval_cpu_s: float  # this process + the database server
    daemon_s: float  # for every run of the tick (sampled runs scaled: see run_ticks)
    daemon_cpu_s: float
    run_create_cpu_s: float  # of daemon_cpu_s: creating the runs
    runs: int
    videos: int
    cursor_bytes: int


class CpuClock:
    """CPU seconds of this process (threads included) plus, with PostgreSQL, its server
    (the postmaster, its live backends and those that exited)."""

    def __init__(self, server_port: int | None):
        self.server = None
        if server_port is not None:
            for process in psutil.process_iter(["name", "cmdline"]):
                line = process.info["cmdline"] or []
                if process.info["name"] == "postgres" and str(server_port) in line:
                    self.server = process
                    break

    def __call__(self) -> float:
        total = time.process_time()
        if self.server is not None:
            times = self.server.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in self.server.children(recursive=True):
                try:
                    times = child.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    pass  # exited: counted in the postmaster's children times next call
        return total


def run_ticks(
    instance,
    store: Path,
    settings: UploadSensorSettings,
    ticks: int,
    sample_runs: int,
    clock: CpuClock,
    verbose: bool,
) -> list[Tick]:
    """Ticks as the daemon runs them. The daemon's part is measured on the first
    `sample_runs` runs of each tick (their upload events and their runs created; every
    partition is added) and scaled to all the tick's videos: run creation writes one
    ASSET_MATERIALIZATION_PLANNED event per asset and video, so its cost follows the videos
    (a 5000-video tick would write ~85k events: hours of this shared machine's time)."""
    sensor = build_upload_sensor(PROCESS_JOB, {PROFILE_TAG: "cpu_baseline"}, settings)
    resources = {"storage": StorageResource(base=str(store))}
    job = process_job(str(store), "cpu_baseline")
    out, cursor = [], None
    for _ in range(ticks):
        wall, cpu = time.perf_counter(), clock()
        context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = sensor(context)
        eval_s, eval_cpu = time.perf_counter() - wall, clock() - cpu
        requests = list(result.run_requests or [])
        # the tick registered its videos itself; its upload events follow the same order
        order = [event.partition for event in result.asset_events or []]
        position = {key: i for i, key in enumerate(order)}

        sampled = [
            key
            for request in requests[:sample_runs]
            for key in order[
                position[request.tags[RANGE_START]] : position[request.tags[RANGE_END]] + 1
            ]
        ]
        scale = len(order) / len(sampled) if sampled else 1.0
        wall, cpu = time.perf_counter(), clock()
        for request in result.dynamic_partitions_requests or []:  # all: as the daemon does
            missing = [
                key
                for key in request.partition_keys
                if not instance.has_dynamic_partition(request.partitions_def_name, key)
            ]
            instance.add_dynamic_partitions(request.partitions_def_name, missing)
        partitions_s, partitions_cpu = time.perf_counter() - wall, clock() - cpu
        wall, cpu = time.perf_counter(), clock()
        wanted = set(sampled)
        for event in result.asset_events or []:  # the daemon: one at a time
            if event.partition in wanted:
                instance.report_runless_asset_event(event)
        events_s, events_cpu = time.perf_counter() - wall, clock() - cpu
        wall, cpu = time.perf_counter(), clock()
        for request in requests[:sample_runs]:
            instance.create_run_for_job(job, tags=request.tags)
        runs_s, runs_cpu = time.perf_counter() - wall, clock() - cpu
        daemon_s = partitions_s + (events_s + runs_s) * scale
        daemon_cpu = partitions_cpu + (events_cpu + runs_cpu) * scale
        if verbose:
            print(
                f"  tick: eval {eval_s:.1f} s ({eval_cpu:.1f} CPU s); {len(order)} videos, "
                f"{len(sampled)} sampled: partitions {partitions_cpu:.2f}, events "
                f"{events_cpu:.2f}, runs {runs_cpu:.2f} CPU s",
                flush=True,
            )
        cursor = result.cursor
        out.append(
            Tick(
                eval_s,
                eval_cpu,
                daemon_s,
                daemon_cpu,
                runs_cpu * scale,
                len(requests),
                len(UploadCursor.decode(cursor).launched),
                len(cursor.encode()),
            )
        )
    return out


@contextmanager
def sqlite_home(root: Path):
    home = root / "home-sqlite"
    home.mkdir()
    shutil.copyfile(EMBEDDED_DAGSTER_YAML, home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


@contextmanager
def postgres_home(root: Path, server):
    home = root / "home-postgres"
    home.mkdir()
    shutil.copyfile(PROD_DAGSTER_YAML, home / "dagster.yaml")
    saved = dict(os.environ)
    os.environ.update(server.create_database("intake").env())
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            yield instance
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_postgres(stack: ExitStack):
    from tests.fixtures import postgres_server

    # the fixture's generator, driven by hand: the same private server the tests start
    generator = postgres_server.postgres_server._get_wrapped_function()()
    server = next(generator)
    stack.callback(generator.close)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--sample-runs", type=int, default=2, help="runs created per tick")
    parser.add_argument("--verbose", action="store_true", help="each tick's phases")
    args = parser.parse_args()
    print(HEADER)
    with ExitStack() as stack:
        server = start_postgres(stack) if "postgres" in args.databases else None
        for size in args.sizes:
            root = Path(tempfile.mkdtemp(prefix=f"dp-intake-{size}-"))
            stack.callback(shutil.rmtree, root, True)
            store = root / "store"
            make_uploads(store, size)
            for database in args.databases:
                for name, settings in (("old", OLD), ("new", NEW), ("new+sub", NEW)):
                    if name == "new+sub":
                        os.environ[SUBSET_PLANNED_EVENTS] = "1"
                    case = root / f"{database}-{name}"
                    case.mkdir()
                    with (
                        sqlite_home(case) if database == "sqlite" else postgres_home(case, server)
                    ) as instance:
                        clock = CpuClock(server.port if database == "postgres" else None)
                        ticks = run_ticks(
                            instance,
                            store,
                            settings,
                            args.ticks,
                            args.sample_runs,
                            clock,
                            args.verbose,
                        )
                    os.environ.pop(SUBSET_PLANNED_EVENTS, None)
                    report(size, database, name, settings, ticks)
    print(
        f"(new: runs of {NEW.batch_max_videos}-{NEW.batch_max_videos_backlog} videos, at most "
        f"{NEW.max_runs_per_tick} runs and {NEW.list_per_tick} keys listed per tick, ticks "
        f"{NEW.interval_s} s apart at least; old: runs of {OLD.batch_max_videos}; new+sub: new "
        f"with {SUBSET_PLANNED_EVENTS}=1); goal "
        f"{GOAL_VIDEOS_PER_HOUR} videos/h, judged by CPU time (the machine is shared)"
    )


def report(size: int, database: str, name: str, settings, ticks: list[Tick]) -> None:
    """Videos an hour twice: by wall time (this shared machine's) and by CPU time (what the
    daemon's process itself spent: a daemon with a core of its own, the database's own
    work not counted)."""
    n = len(ticks)
    videos = sum(t.videos for t in ticks)
    by_wall = [max(settings.interval_s, t.eval_s + t.daemon_s) for t in ticks]
    by_cpu = [max(settings.interval_s, t.eval_cpu_s + t.daemon_cpu_s) for t in ticks]
    per_hour_wall = videos * 3600 / sum(by_wall)
    per_hour_cpu = videos * 3600 / sum(by_cpu)

    def mean(values) -> float:
        return sum(values) / n

    print(
        f"{size:>8} {database:>8} {name:>7} {mean(t.eval_s for t in ticks):>7.2f} "
        f"{mean(t.eval_cpu_s for t in ticks):>6.2f} {mean(t.daemon_s for t in ticks):>9.2f} "
        f"{mean(t.daemon_cpu_s for t in ticks):>6.2f} "
        f"{mean(t.run_create_cpu_s for t in ticks):>6.2f} {mean(by_wall):>7.1f} "
        f"{mean(by_cpu):>6.1f} {mean(t.runs for t in ticks):>5.1f} {videos / n:>7.0f} "
        f"{max(t.cursor_bytes for t in ticks):>8} {per_hour_wall:>9.0f} {per_hour_cpu:>9.0f} "
        f"{'MET' if per_hour_cpu >= GOAL_VIDEOS_PER_HOUR else 'no':>4}",
        flush=True,
    )


HEADER = (
    f"{'uploads':>8} {'db':>8} {'setting':>7} {'eval s':>7} {'cpu s':>6} {'daemon s':>9} "
    f"{'cpu s':>6} {'runs':>6} {'tick s':>7} {'cpu':>6} {'runs':>5} {'videos':>7} "
    f"{'cursorB':>8} {'videos/h':>9} {'(by cpu)':>9} {'goal':>4}\n"
    f"{'':>8} {'':>8} {'':>7} {'':>7} {'':>6} {'':>9} {'':>6} {'cpu s':>6} {'wall':>7} "
    f"{'':>6} {'/tick':>5} {'/tick':>7} {'':>8} {'(by wall)':>9} {'':>9} {'':>4}"
)


if __name__ == "__main__":
    main()
