"""The long video (issue 25 goal 3): 127 s of 720p through `dp process` on cpu_baseline, against
5x real time and 1.5 GB peak RSS, with its baselines measured in the same run.

    .venv/bin/python benchmarks/long_video.py [--seconds 127] [--baseline-ref REF
        [--baseline-paths PATH ...]] [--rounds 1] [--profile cpu_baseline]

Each measurement runs in a fresh child process (imports done before the clock starts), so its
peak RSS and CPU time are its own. Per round, in this order:
- `bare decode`: PyAV decodes every video and audio frame of the file (frame threads, no
  conversion): the floor any segmenter pays;
- `baseline`: `dp process` on the same file with the code of `--baseline-ref` (a git worktree
  of that commit, made for this run and removed after; skipped without the option); with
  `--baseline-paths`, HEAD with only those paths as they were at the ref (the change alone);
- `current`: `dp process` with the code of this working tree.
Wall time is noisy on a shared machine; CPU time (user + sys of the child and every thread and
process it started) is not, so both are printed, and rounds alternate baseline and current.
Per run: wall, CPU, x real time, peak RSS, and each component's `duration_ms` (manifest).
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
# a child may run another checkout's code (the baseline): it names it in DP_BENCH_CODE_ROOT
CODE_ROOT = Path(os.environ.get("DP_BENCH_CODE_ROOT", THIS_REPO))
sys.path.insert(0, str(CODE_ROOT))

GOAL_REAL_TIME = 5.0
GOAL_PEAK_MB = 1536.0


def _cpu_seconds() -> float:
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child_bare_decode(path: Path) -> dict:
    import av

    started, cpu = time.perf_counter(), _cpu_seconds()
    frames = 0
    with av.open(str(path)) as container:
        streams = [*container.streams.video[:1], *container.streams.audio[:1]]
        for stream in streams:
            stream.thread_type = "AUTO"
        for packet in container.demux(*streams):
            for frame in packet.decode():
                frames += isinstance(frame, av.VideoFrame)
    return {
        "wall": time.perf_counter() - started,
        "cpu": _cpu_seconds() - cpu,
        "frames": frames,
        "components": {},
    }


def child_process(path: Path, profile_name: str, work: Path) -> dict:
    import logging

    from dagster import DagsterInstance

    from dp_assets.components import load_profile
    from dp_assets.definitions import Settings
    from dp_cli.home import EMBEDDED_DAGSTER_YAML
    from dp_cli.process import process_videos
    from dp_core.manifest import Manifest

    logging.disable(logging.WARNING)
    home = work / "home"
    home.mkdir(parents=True)
    shutil.copy(EMBEDDED_DAGSTER_YAML, home / "dagster.yaml")
    instance = DagsterInstance.from_config(str(home))
    settings = Settings.of(str(work / "storage"), profile_name)
    profile = load_profile(profile_name)
    started, cpu = time.perf_counter(), _cpu_seconds()
    results, storage = process_videos(instance, [str(path)], settings, profile, 1, lambda _: None)
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    failed = [r.message for r in results if r.status != "success"]
    if failed:
        raise SystemExit(f"dp process failed: {failed}")
    manifest = Manifest.model_validate_json(storage.get_bytes(results[0].manifest_key))
    components = {c.name: (c.duration_ms or 0.0) / 1000.0 for c in manifest.components}
    instance.dispose()
    import dp_resources

    code = str(Path(dp_resources.__file__).parents[1])
    return {"wall": wall, "cpu": cpu, "components": components, "code": code}


def run_child(kind: str, path: Path, profile: str, code_root: Path) -> dict:
    """One measurement in a fresh process; adds its peak RSS (MB) and whole CPU time."""
    with tempfile.TemporaryDirectory(prefix="dp-long-") as work:
        out = Path(work) / "result.json"
        env = {**os.environ, "DP_BENCH_CODE_ROOT": str(code_root)}
        command = [sys.executable, str(Path(__file__).resolve()), "--child", kind]
        command += ["--file", str(path), "--profile", profile, "--work", work, "--out", str(out)]
        process = subprocess.Popen(
            command, env=env, cwd=code_root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            error = process.stderr.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"{kind} child failed ({status}):\n{error}")
        result = json.loads(out.read_text())
    if "code" in result and Path(result["code"]) != code_root.resolve():
        raise SystemExit(f"{kind} child ran the code of {result['code']}, not {code_root}")
    result["peak_mb"] = usage.ru_maxrss / 1024
    result["process_cpu"] = usage.ru_utime + usage.ru_stime  # imports included
    return result


def make_long_clip(seconds: float) -> Path:
    import av

    from benchmarks.pipeline import loop_remux
    from dp_cli.samples import fetch_samples

    sample = {p.stem: p for p in fetch_samples(THIS_REPO / "samples")}["bigbuckbunny"]
    target = Path(tempfile.gettempdir()) / f"dp_bench_bbb_{seconds:.0f}s.mp4"
    loop_remux(sample, target, seconds)
    with av.open(str(target)) as probe:
        if probe.duration / 1e6 < seconds - 1:  # a stale or partial file from an earlier run
            target.unlink()
            loop_remux(sample, target, seconds)
    return target


def baseline_tree(ref: str, folder: Path, paths: list[str]) -> Path:
    """A worktree of `ref`; with `paths`, a worktree of HEAD with only those paths from `ref`
    (the old code of what changed, everything else as committed now)."""
    tree = folder / "baseline"
    git = ["git", "-C", str(THIS_REPO)]
    base = "HEAD" if paths else ref
    subprocess.run([*git, "worktree", "add", "--detach", str(tree), base], check=True)
    if paths:
        subprocess.run(["git", "-C", str(tree), "checkout", ref, "--", *paths], check=True)
    return tree


def print_row(label: str, r: dict, media_s: float, floor: dict | None) -> None:
    segmenter = r["components"].get("segmenter")
    vs_floor = f"{segmenter / floor['wall']:.2f}x" if segmenter and floor else "-"
    print(
        f"{label:<12} {r['wall']:>7.1f} {r['cpu']:>7.1f} {media_s / r['wall']:>7.2f}x "
        f"{r['peak_mb']:>8.0f} {vs_floor:>14}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=127.0)
    parser.add_argument("--baseline-ref", default=None, help="git ref of the old code")
    parser.add_argument(
        "--baseline-paths",
        nargs="*",
        default=[],
        help="take only these paths from --baseline-ref, the rest from HEAD",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", default="cpu_baseline")
    parser.add_argument("--child", choices=["bare", "process"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "bare":
            result = child_bare_decode(args.file)
        else:
            result = child_process(args.file, args.profile, args.work)
        args.out.write_text(json.dumps(result))
        return

    import av

    clip = make_long_clip(args.seconds)
    with av.open(str(clip)) as probe:
        media_s = probe.duration / 1e6
    scratch = Path(tempfile.mkdtemp(prefix="dp-long-bench-"))
    codes = {"current": THIS_REPO}
    try:
        if args.baseline_ref:
            tree = baseline_tree(args.baseline_ref, scratch, args.baseline_paths)
            codes = {"baseline": tree, **codes}
        print(
            f"{clip.name}: {media_s:.1f} s of 1280x720 25 fps, profile {args.profile}, "
            f"{os.cpu_count()} cores; baseline code: {args.baseline_ref or 'none'}"
            + (
                f" for {' '.join(args.baseline_paths)}, HEAD elsewhere"
                if args.baseline_paths
                else ""
            )
        )
        print(
            f"{'run':<12} {'wall s':>7} {'CPU s':>7} {'x real':>8} {'peak MB':>8} "
            f"{'segm./decode':>14}"
        )
        runs: dict[str, list[dict]] = {"bare decode": [], **{k: [] for k in codes}}
        for round_index in range(args.rounds):
            floor = run_child("bare", clip, args.profile, THIS_REPO)
            runs["bare decode"].append(floor)
            print_row("bare decode", floor, media_s, None)
            order = list(codes.items())
            for label, root in order[::-1] if round_index % 2 else order:  # A B, B A, ...
                result = run_child("process", clip, args.profile, root)
                runs[label].append(result)
                print_row(label, result, media_s, floor)
        print("\nper component, s (median over rounds):")
        names = sorted({n for label in codes for r in runs[label] for n in r["components"]})
        print(f"{'component':<24}" + "".join(f"{label:>10}" for label in codes))
        for name in names:
            cells = [sorted(r["components"].get(name, 0.0) for r in runs[label]) for label in codes]
            print(f"{name:<24}" + "".join(f"{c[len(c) // 2]:>10.2f}" for c in cells))
        best = min(runs["current"], key=lambda r: r["wall"])
        worst_rss = max(r["peak_mb"] for r in runs["current"])
        print(
            f"\ngoal: >= {GOAL_REAL_TIME:.0f}x real time: best {media_s / best['wall']:.2f}x "
            f"({best['wall']:.1f} s; CPU {best['cpu']:.1f} s) -> "
            f"{'met' if media_s / best['wall'] >= GOAL_REAL_TIME else 'NOT met'}"
        )
        print(
            f"goal: peak RSS <= {GOAL_PEAK_MB:.0f} MB: worst {worst_rss:.0f} MB -> "
            f"{'met' if worst_rss <= GOAL_PEAK_MB else 'NOT met'}"
        )
    finally:
        if "baseline" in codes:
            subprocess.run(
                ["git", "-C", str(THIS_REPO), "worktree", "remove", "--force", codes["baseline"]],
                capture_output=True,
            )
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
