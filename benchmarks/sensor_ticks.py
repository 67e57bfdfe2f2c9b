"""The uploads sensor's tick time and cursor size at 1k / 10k / 50k uploads (issue 15).

    .venv/bin/python benchmarks/sensor_ticks.py [--sizes 1000 10000 50000]

For each size: a fresh folder storage holding N small "video" objects (every tenth with a
sidecar), a fresh SQLite Dagster instance, then sensor ticks evaluated as the daemon does
(partitions and upload events applied). Prints, per size, the first tick's time, the mean
of the next two, runs requested per tick and the stored cursor's size, and each figure's
ratio to the 1k baseline measured in the same run. With bounded work per tick the ratios
stay near 1 (before: the first tick grew with N, ~33 min at 10k, and the cursor ~1.3 MB at
50k). Run creation itself (the daemon's, ~1.5 s per run) is bounded by max_runs_per_tick.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dagster import DagsterInstance, build_sensor_context  # noqa: E402

from dp_assets.definitions import PROCESS_JOB, PROFILE_TAG  # noqa: E402
from dp_assets.upload_sensor import UploadSensorSettings, build_upload_sensor  # noqa: E402
from dp_cli.home import EMBEDDED_DAGSTER_YAML  # noqa: E402
from dp_resources.storage.resource import StorageResource  # noqa: E402

SETTINGS = UploadSensorSettings(prefix="uploads", batch_max_videos=8, batch_wait_s=60.0)
TICKS = 3


def make_uploads(root: Path, count: int) -> None:
    folder = root / "uploads"
    for i in range(count):
        sub = folder / f"{i % 100:02d}"  # a bucket-like spread over 100 "folders"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"clip-{i:06d}.mp4").write_bytes(b"not decoded by the sensor")
        if i % 10 == 0:
            (sub / f"clip-{i:06d}.json").write_text(json.dumps({"platform": "youtube"}))


def measure(count: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"dp-sensor-{count}-"))
    try:
        store = root / "store"
        make_uploads(store, count)
        home = root / "home"
        home.mkdir()
        shutil.copyfile(EMBEDDED_DAGSTER_YAML, home / "dagster.yaml")
        sensor = build_upload_sensor(PROCESS_JOB, {PROFILE_TAG: "cpu_baseline"}, SETTINGS)
        resources = {"storage": StorageResource(base=str(store))}
        seconds, runs, cursor_bytes = [], [], []
        cursor = None
        with DagsterInstance.from_config(str(home)) as instance:
            for _ in range(TICKS):
                started = time.perf_counter()
                context = build_sensor_context(
                    instance=instance, cursor=cursor, resources=resources
                )
                result = sensor(context)
                for request in result.dynamic_partitions_requests or []:
                    instance.add_dynamic_partitions(
                        request.partitions_def_name, list(request.partition_keys)
                    )
                for event in result.asset_events or []:
                    instance.report_runless_asset_event(event)
                seconds.append(time.perf_counter() - started)
                runs.append(len(result.run_requests or []))
                cursor = result.cursor
                cursor_bytes.append(len(cursor.encode()))
        return {
            "uploads": count,
            "first_tick_s": seconds[0],
            "next_ticks_s": sum(seconds[1:]) / (TICKS - 1),
            "runs_per_tick": runs,
            "cursor_bytes": max(cursor_bytes),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    sizes = parser.parse_args().sizes
    rows = [measure(n) for n in sizes]
    base = rows[0]
    print(
        f"{'uploads':>8} {'first tick s':>13} {'x base':>7} {'next ticks s':>13} {'x base':>7} "
        f"{'runs/tick':>12} {'cursor B':>9} {'x base':>7}"
    )
    for row in rows:
        print(
            f"{row['uploads']:>8} {row['first_tick_s']:>13.2f} "
            f"{row['first_tick_s'] / base['first_tick_s']:>7.2f} "
            f"{row['next_ticks_s']:>13.2f} {row['next_ticks_s'] / base['next_ticks_s']:>7.2f} "
            f"{row['runs_per_tick']!s:>12} {row['cursor_bytes']:>9} "
            f"{row['cursor_bytes'] / base['cursor_bytes']:>7.2f}"
        )
    print(
        f"(per tick: at most {SETTINGS.list_per_tick} keys listed and "
        f"{SETTINGS.max_runs_per_tick} runs of {SETTINGS.batch_max_videos} videos requested)"
    )


if __name__ == "__main__":
    main()
