"""An unchanged re-run against the first run of the same videos, measured in the same run.

    .venv/bin/python benchmarks/rerun.py [--videos 32] [--seconds 5] [--profile cpu_baseline]

Makes N synthetic 640x360 clips (panning texture + a tone), runs `process_videos` on them
in a fresh Dagster home (the first run: everything computed), then again unchanged (every
component up to date: nothing recomputed), then once with one component's params changed.
Prints the wall time of each and the ratios to the first run (goal: unchanged <= 10 %).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dagster import DagsterInstance  # noqa: E402

from dp_assets.components import load_profile  # noqa: E402
from dp_assets.definitions import Settings  # noqa: E402
from dp_cli.home import EMBEDDED_DAGSTER_YAML  # noqa: E402
from dp_cli.process import process_videos  # noqa: E402
from dp_core.profile import PROFILES_DIR  # noqa: E402
from tests.fixtures.media import ClipSpec, make_clip  # noqa: E402


def timed(instance, clips, settings, profile_path) -> tuple[float, int]:
    started = time.perf_counter()
    results, _ = process_videos(
        instance, clips, settings, load_profile(str(profile_path)), None, lambda _: None
    )
    elapsed = time.perf_counter() - started
    assert all(r.status == "success" for r in results), [r.message for r in results]
    return elapsed, sum(r.reused for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--videos", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--profile", default="cpu_baseline")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dp-rerun-"))
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
        data["batching"] = {"videos_per_run": args.videos}
        profile_path = work / "profile.yaml"
        profile_path.write_text(yaml.safe_dump(data))
        settings = Settings(storage_base=str(work / "store"), profile=str(profile_path))
        with DagsterInstance.from_config(str(home)) as instance:
            first, _ = timed(instance, clips, settings, profile_path)
            unchanged, reused = timed(instance, clips, settings, profile_path)
            data["components"]["color_dynamics"] = {
                **data["components"].get("color_dynamics", {}),
                "params": {"levels": 4},
            }
            profile_path.write_text(yaml.safe_dump(data))
            one_changed, reused_after_change = timed(instance, clips, settings, profile_path)
        components = len(data["components"])
        print(f"{args.videos} videos x {args.seconds:g} s, profile {args.profile}")
        print(f"first run (everything computed):     {first:7.1f} s")
        print(
            f"unchanged re-run:                     {unchanged:7.1f} s  "
            f"{unchanged / first:6.1%} of the first  ({reused}/{components * args.videos} reused)"
        )
        print(
            f"re-run, color_dynamics params changed: {one_changed:6.1f} s  "
            f"{one_changed / first:6.1%} of the first  ({reused_after_change} reused)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
