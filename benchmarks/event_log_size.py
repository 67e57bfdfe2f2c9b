"""What one video leaves in the Dagster home (goal, issue 25: at most 50 KB per video).

    .venv/bin/python benchmarks/event_log_size.py [--videos 10] [--seconds 2] [--profile cpu_baseline]

Makes N short synthetic clips, runs `process_videos` (what `dp process` runs) on them in one
batch, in a fresh Dagster home with the embedded default profile (SQLite, dp_cli's
dagster_embedded.yaml), and prints per video: the bytes the home grew by (its event log and
run storage under `history/`, and everything else), the stored events by type with their
serialized size, and the largest metadata entries of a materialization. With
`dp_assets.retention` present, it then applies the event-log retention with an age of 0
(every finished run whose manifests are written), prints what is left, processes a second
batch of new clips, applies it again and prints what that batch left per video (the
steady state of a home under retention).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dagster import DagsterEventType, DagsterInstance, RunsFilter, serialize_value  # noqa: E402

from dp_assets.components import load_profile  # noqa: E402
from dp_assets.definitions import Settings  # noqa: E402
from dp_cli.home import EMBEDDED_DAGSTER_YAML  # noqa: E402
from dp_cli.process import process_videos  # noqa: E402
from dp_core.profile import PROFILES_DIR  # noqa: E402
from tests.fixtures.media import ClipSpec, make_clip  # noqa: E402

GOAL_BYTES_PER_VIDEO = 50 * 1024


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def stored_events(instance: DagsterInstance) -> tuple[Counter, Counter, Counter]:
    """Per event type (or `log` for a plain log line): count and serialized bytes, over
    every run of the instance; and, per metadata entry name, the serialized bytes it takes
    in materializations."""
    counts, sizes, by_entry = Counter(), Counter(), Counter()
    for run in instance.get_runs(RunsFilter()):
        for record in instance.get_records_for_run(run.run_id, limit=100_000).records:
            entry = record.event_log_entry
            event = entry.dagster_event
            kind = event.event_type_value if event is not None else "log"
            counts[kind] += 1
            sizes[kind] += len(serialize_value(entry))
            if event is not None and event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                metadata = event.event_specific_data.materialization.metadata
                for name, value in metadata.items():
                    by_entry[name] += len(serialize_value(value))
    return counts, sizes, by_entry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--profile", default="cpu_baseline")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dp-eventlog-"))
    try:
        clips = [
            str(
                make_clip(
                    work / "in" / f"clip{i:03d}.mp4",
                    ClipSpec(duration_s=args.seconds, width=640, height=360, texture=True),
                )
            )
            for i in range(args.videos)
        ]
        home = work / "home"
        home.mkdir()
        shutil.copyfile(EMBEDDED_DAGSTER_YAML, home / "dagster.yaml")
        data = yaml.safe_load((PROFILES_DIR / f"{args.profile}.yaml").read_text())
        data["batching"] = {**data.get("batching", {}), "videos_per_run": args.videos}
        profile_path = work / "profile.yaml"
        profile_path.write_text(yaml.safe_dump(data))
        settings = Settings(storage_base=str(work / "store"), profile=str(profile_path))
        os.environ["DAGSTER_HOME"] = str(home)
        with DagsterInstance.from_config(str(home)) as instance:
            history_before, home_before = folder_bytes(home / "history"), folder_bytes(home)
            results, storage = process_videos(
                instance, clips, settings, load_profile(str(profile_path)), None, lambda _: None
            )
            assert all(r.status == "success" for r in results), [r.message for r in results]
            history = folder_bytes(home / "history") - history_before
            total = folder_bytes(home) - home_before
            counts, sizes, by_entry = stored_events(instance)
            n = args.videos
            print(f"{n} videos x {args.seconds:g} s, profile {args.profile}, one run")
            print(
                f"home grew {total / n / 1024:7.1f} KB per video "
                f"(goal <= {GOAL_BYTES_PER_VIDEO / 1024:.0f} KB): "
                f"{'MET' if total / n <= GOAL_BYTES_PER_VIDEO else 'NOT MET'}"
            )
            print(f"  history/ (event log + runs) {history / n / 1024:7.1f} KB per video")
            print(f"  the rest of the home        {(total - history) / n / 1024:7.1f} KB per video")
            print(
                f"stored events: {sum(counts.values()) / n:.1f} per video, "
                f"{sum(sizes.values()) / n / 1024:.1f} KB serialized per video"
            )
            for kind, size in sizes.most_common():
                print(f"  {kind:<28} {counts[kind] / n:6.1f} per video  {size / n / 1024:7.1f} KB")
            print("materialization metadata, largest entries:")
            for name, size in by_entry.most_common(8):
                print(f"  {name:<28} {size / n / 1024:7.1f} KB per video")
            if importlib.util.find_spec("dp_assets.retention") is None:
                return
            from dp_assets.retention import apply_retention

            retained = apply_retention(instance, storage, max_age_days=0.0)
            after_first = folder_bytes(home)
            print(
                f"after retention (age 0: {len(retained.deleted)} run(s) deleted, "
                f"{retained.copies} newest results kept): "
                f"{(after_first - home_before) / n / 1024:.1f} KB per video left in the home"
            )
            # a second batch of new videos, then retention again: what stays per video
            # (SQLite reuses the pages the first batch freed)
            more = [
                str(
                    make_clip(
                        work / "in2" / f"next{i:03d}.mp4",
                        ClipSpec(duration_s=args.seconds, width=640, height=360, texture=True),
                    )
                )
                for i in range(args.videos)
            ]
            results, _ = process_videos(
                instance, more, settings, load_profile(str(profile_path)), None, lambda _: None
            )
            assert all(r.status == "success" for r in results), [r.message for r in results]
            peak = folder_bytes(home)
            second = apply_retention(instance, storage, max_age_days=0.0)
            steady = folder_bytes(home) - after_first
            print(
                f"second batch: home grew {(peak - after_first) / n / 1024:.1f} KB per video "
                f"before retention, {steady / n / 1024:.1f} KB per video after it "
                f"({len(second.deleted)} run(s) deleted, {second.kept_unwritten} kept) "
                f"(goal <= {GOAL_BYTES_PER_VIDEO / 1024:.0f} KB): "
                f"{'MET' if steady / n <= GOAL_BYTES_PER_VIDEO else 'NOT MET'}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
