"""Short clips (issue 25 goal 1a): 40 clips of 2 s in one `dp process`, orchestration at most
15 % of the wall time.

    .venv/bin/python benchmarks/short_clips.py [--clips 40] [--seconds 2] [--rounds 1]
        [--baseline-ref REF] [--variant NAME:ENV=VALUE ...] [--profile cpu_baseline]

Each measurement runs `process_videos` (what `dp process` runs, default batching) on the same
N synthetic 640x360 clips in a fresh child process and a fresh Dagster home (dp_cli's embedded
SQLite), imports done before the clock starts. Orchestration = wall - the sum of every
component's `duration_ms` over the videos' manifests (the compute the steps report). Cases:
`baseline` (the code of `--baseline-ref`, a git worktree made for this run), `current` (this
working tree), and each `--variant` (the current code with an environment variable set, e.g.
`subset:DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1`, or `one_run:DP_BENCH_VIDEOS_PER_RUN=40`
for the batch size `dp process --batch-size` sets; several `;`-separated assignments). Rounds alternate the order.
Wall and CPU time (the child and everything it started) are printed: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THIS_REPO = Path(__file__).resolve().parents[1]
CODE_ROOT = Path(os.environ.get("DP_BENCH_CODE_ROOT", THIS_REPO))
sys.path.insert(0, str(CODE_ROOT))

GOAL_ORCHESTRATION = 0.15
BATCH_SIZE_ENV = "DP_BENCH_VIDEOS_PER_RUN"  # a variant's videos per run (default: the profile's)


def _cpu_seconds() -> float:
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child_process(clips: list[str], profile_name: str, work: Path) -> dict:
    import logging
    import warnings

    from dagster import DagsterInstance

    from dp_assets.components import load_profile
    from dp_assets.definitions import Settings
    from dp_cli.home import EMBEDDED_DAGSTER_YAML
    from dp_cli.process import process_videos
    from dp_core.manifest import Manifest

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    home = work / "home"
    home.mkdir(parents=True)
    shutil.copy(EMBEDDED_DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    instance = DagsterInstance.from_config(str(home))
    settings = Settings.of(str(work / "storage"), profile_name)
    profile = load_profile(profile_name)
    started, cpu = time.perf_counter(), _cpu_seconds()
    # a variant may set the videos per run (dp process --batch-size)
    batch_size = int(os.environ.get(BATCH_SIZE_ENV) or 0) or None
    results, storage = process_videos(
        instance, clips, settings, profile, batch_size, lambda _: None
    )
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    failed = [r.message for r in results if r.status != "success"]
    if failed:
        raise SystemExit(f"dp process failed: {failed[:3]}")
    compute = 0.0
    for result in results:
        manifest = Manifest.model_validate_json(storage.get_bytes(result.manifest_key))
        compute += sum((c.duration_ms or 0.0) / 1000.0 for c in manifest.components)
    instance.dispose()
    import dp_resources

    code = str(Path(dp_resources.__file__).parents[1])
    return {"wall": wall, "cpu": cpu, "compute": compute, "code": code}


def run_child(clips: Path, profile: str, code_root: Path, env_extra: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="dp-short-") as work:
        out = Path(work) / "result.json"
        env = {**os.environ, **env_extra, "DP_BENCH_CODE_ROOT": str(code_root)}
        command = [sys.executable, str(Path(__file__).resolve()), "--child"]
        command += ["--clips-dir", str(clips), "--profile", profile]
        command += ["--work", work, "--out", str(out)]
        process = subprocess.Popen(
            command, env=env, cwd=code_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, _ = os.wait4(process.pid, 0)
        if status != 0:
            error = process.stderr.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"child failed ({status}):\n{error}")
        result = json.loads(out.read_text())
    if Path(result["code"]) != code_root.resolve():
        raise SystemExit(f"child ran the code of {result['code']}, not {code_root}")
    return result


def make_clips(folder: Path, count: int, seconds: float) -> None:
    from tests.fixtures.media import ClipSpec, make_clip

    spec = ClipSpec(duration_s=seconds, width=640, height=360, texture=True)
    for i in range(count):
        make_clip(folder / f"short{i:03d}.mp4", spec)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", default="cpu_baseline")
    parser.add_argument("--baseline-ref", default=None)
    parser.add_argument("--variant", action="append", default=[], help="NAME:ENV=VALUE")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clips-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        clips = sorted(str(p) for p in args.clips_dir.glob("*.mp4"))
        args.out.write_text(json.dumps(child_process(clips, args.profile, args.work)))
        return

    scratch = Path(tempfile.mkdtemp(prefix="dp-short-bench-"))
    cases: dict[str, tuple[Path, dict]] = {}
    try:
        if args.baseline_ref:
            tree = scratch / "baseline"
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(THIS_REPO),
                    "worktree",
                    "add",
                    "--detach",
                    str(tree),
                    args.baseline_ref,
                ],
                check=True,
                capture_output=True,
            )
            cases["baseline"] = (tree, {})
        cases["current"] = (THIS_REPO, {})
        for variant in args.variant:
            name, assignments = variant.split(":", 1)
            pairs = (assignment.split("=", 1) for assignment in assignments.split(";"))
            cases[name] = (THIS_REPO, dict(pairs))
        clips = scratch / "clips"
        make_clips(clips, args.clips, args.seconds)
        print(
            f"{args.clips} clips x {args.seconds:g} s (640x360), profile {args.profile}, "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; baseline: "
            f"{args.baseline_ref or 'none'}"
        )
        print(
            f"{'case':<12} {'wall s':>7} {'CPU s':>7} {'compute s':>10} {'orch. s':>8} "
            f"{'orch. %':>8} {'goal':>5}"
        )
        order = list(cases.items())
        for round_index in range(args.rounds):
            for name, (root, env) in order[::-1] if round_index % 2 else order:
                r = run_child(clips, args.profile, root, env)
                orchestration = r["wall"] - r["compute"]
                share = orchestration / r["wall"]
                print(
                    f"{name:<12} {r['wall']:>7.1f} {r['cpu']:>7.1f} {r['compute']:>10.1f} "
                    f"{orchestration:>8.1f} {100 * share:>7.0f}% "
                    f"{'MET' if share <= GOAL_ORCHESTRATION else 'no':>5}",
                    flush=True,
                )
    finally:
        if "baseline" in cases:
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(THIS_REPO),
                    "worktree",
                    "remove",
                    "--force",
                    str(cases["baseline"][0]),
                ],
                capture_output=True,
            )
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
