"""Mutation testing of the core modules (mutmut), each group with its own fast test selection.

Run it with `bash scripts/mutation.sh [GROUP ...]` (it installs the pinned `[mutation]` extra
into `.venv` first); it is not part of the default CI run. For every group it copies the
repository's files into a scratch folder, writes mutmut's configuration there (the work tree
is never touched), runs `mutmut run` niced, and prints the kill rate per module:
killed / (killed + survived + timeout + suspicious + no tests). Survivors are listed by name;
`mutmut show NAME` in the printed scratch folder shows the diff of one.

Groups (see GROUPS): `core` - dp_core (ids and slugs, artifacts and their digest check on
read, manifests, profiles, retries, ...); `loudness` - the BS.1770 / Tech 3342 meter;
`loudness_parts` - its K-weighting, true-peak and channel-weight modules; `reuse` - what
decides reuse (dp_assets/freshness.py), the verified-objects cache, `dp verify`'s audit and
the NPZ IO manager (its digest check on read); `cuts` - cut detection and its fusion with
TransNetV2; `tempo` - the tempo estimator and its metrical-level choice. The default run
is `core loudness` (measured 12 + 41 minutes niced on 2 heavily shared cores; a surviving
loudness mutant runs its whole selection, ~50 s). `--sample N` checks N mutants per module
drawn at random with a fixed seed (cut_detection.py alone has ~2,700 mutants and its
selection takes ~1 min per survivor); `--recheck` runs an earlier run's survivors again
against the tests as they are now. Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# group -> (packages copied into mutmut's tree, modules mutated, the fast test selection)
GROUPS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "core": (
        ["dp_core"],
        [
            "dp_core/artifact.py",  # encode/decode, seal, verify_digest (the digest check)
            "dp_core/component_spec.py",
            "dp_core/errors.py",
            "dp_core/hashing.py",
            "dp_core/identity.py",
            "dp_core/manifest.py",
            "dp_core/profile.py",
            "dp_core/retry.py",
            "dp_core/sidecar.py",
            "dp_core/state_journal.py",
            "dp_core/storage_keys.py",
            "dp_core/version.py",
        ],
        [
            "tests/unit/test_artifact.py",
            "tests/unit/test_errors.py",
            "tests/unit/test_hashing.py",
            "tests/unit/test_identity.py",
            "tests/unit/test_manifest_state.py",
            "tests/unit/test_profile.py",
            "tests/unit/test_retry.py",
            "tests/unit/test_sidecar.py",
            "tests/unit/test_version.py",
            "tests/unit/test_core_contracts.py",
        ],
    ),
    "loudness": (
        ["dp_features"],
        ["dp_features/audio/loudness.py"],
        [
            "tests/unit/audio/test_loudness.py",
            "tests/accuracy/audio/test_loudness_ebu.py",
            "-k",
            "not 44100",  # one rate: the 44.1 kHz cases repeat the 48 kHz ones
        ],
    ),
    "loudness_parts": (
        ["dp_features"],
        [
            "dp_features/audio/k_weighting.py",
            "dp_features/audio/true_peak.py",
            "dp_features/audio/channel_weights.py",
        ],
        [
            "tests/unit/audio/test_k_weighting.py",
            "tests/unit/audio/test_true_peak.py",
            "tests/unit/audio/test_channel_weights.py",
            "tests/unit/audio/test_loudness.py",
            "tests/accuracy/audio/test_loudness_ebu.py",
            "-k",
            "not 44100",
        ],
    ),
    # reuse and lineage: what decides that an artifact is reused, and the digest checks
    "reuse": (
        ["dp_assets", "dp_resources", "io_managers"],
        [
            "dp_assets/freshness.py",
            "dp_resources/storage/verified_objects.py",
            "dp_resources/storage/audit.py",
            "io_managers/npz_io_manager.py",
        ],
        [
            "tests/unit/test_verified_objects.py",
            "tests/unit/test_storage_audit.py",
            "tests/integration/test_reuse_rules.py",
            "tests/integration/test_npz_io_manager_output.py",
            # the NPZ IO manager's digest check on read, through a real Dagster run (~20 s)
            "tests/integration/test_lineage.py::"
            "test_an_input_rewritten_after_it_was_written_is_named_and_never_consumed",
            "tests/integration/test_lineage.py::test_a_step_reads_its_own_runs_inputs_not_the_latest",
        ],
    ),
    "cuts": (
        ["dp_features"],
        ["dp_features/visual/cut_detection.py", "dp_features/visual/cut_fusion.py"],
        [
            "tests/unit/visual/test_cut_detection.py",
            "tests/unit/visual/test_cut_detection_inputs.py",
            "tests/unit/visual/test_cut_detection_holds.py",
            "tests/unit/visual/test_cut_fusion.py",
            "tests/unit/visual/test_cut_fusion_rules.py",
            "tests/accuracy/visual/test_cut_detection_branches.py",
            "tests/accuracy/visual/test_cut_detection_accuracy.py",
        ],
    ),
    "tempo": (
        ["dp_features"],
        ["dp_features/audio/tempo.py", "dp_features/audio/tempo_levels.py"],
        [
            "tests/unit/audio/test_tempo.py",
            "tests/unit/audio/test_tempo_levels.py",
            "tests/unit/audio/test_onset_strength.py",
            "tests/unit/audio/test_tempo_contracts.py",
            "tests/accuracy/audio/test_tempo_clicks.py",
        ],
    ),
}
DEFAULT_GROUPS = ["core", "loudness"]
ALSO_COPY = ["profiles", "samples"]
# mutmut exit codes: test failure, pytest internal error, caught by type check; and the
# timeouts (the mutant hangs the tests: an endless retry loop), counted as caught, as PIT does
KILLED = {1, 3, 37, 36, 24, -24, 152, 255}
NOT_CHECKED = {None}


def _copy_tree(target: Path) -> None:
    """The repository's tracked and untracked-not-ignored files (no .venv, no caches)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    # a git repository of its own: tests read the commit (dp_core.version)
    git = ["git", "-c", "user.name=mutation", "-c", "user.email=mutation@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "scratch copy"]):
        subprocess.run([*git, *command], cwd=target, check=True, capture_output=True)
    # the packages mutmut does not copy are imported from this snapshot, not through the
    # editable install from the working tree, which other work may change during a run
    snapshot = target / "_snapshot"
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file() and "/" in name.decode():
            (snapshot / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name.decode())
    # mutmut runs the tests in mutants/: the same repository seen from there
    (target / "mutants").mkdir()
    (target / "mutants" / ".git").write_text(f"gitdir: {target / '.git'}\n")


def _write_config(work: Path, packages: list[str], modules: list[str], tests: list[str]) -> None:
    """mutmut's settings as a setup.cfg section, in the scratch copy only (its pyproject.toml
    has no [tool.mutmut], so mutmut reads setup.cfg)."""

    def listed(values: list[str]) -> str:
        return "\n" + "\n".join(f"    {v}" for v in values)

    (work / "setup.cfg").write_text(
        "[mutmut]\n"
        f"source_paths ={listed(packages)}\n"
        f"only_mutate ={listed(modules)}\n"
        f"pytest_add_cli_args_test_selection ={listed(tests)}\n"
        # data found beside the code (profiles/ next to dp_core, samples/)
        f"also_copy ={listed(ALSO_COPY)}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -q\n"
        "use_git_change_detection = false\n"
    )


def _results(work: Path, modules: list[str]) -> dict[str, Counter]:
    """module -> Counter of mutmut statuses, from mutmut's per-file .meta records."""
    by_module: dict[str, Counter] = {}
    for module in modules:
        meta = work / "mutants" / (module + ".meta")
        counts: Counter = Counter()
        survivors: list[str] = []
        if meta.is_file():
            for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                if code in KILLED:
                    counts["killed"] += 1
                elif code == 0:
                    counts["survived"] += 1
                    survivors.append(name)
                elif code in NOT_CHECKED:
                    counts["not checked"] += 1
                elif code in (33, 5):
                    counts["no tests"] += 1
                else:
                    counts["other"] += 1
        counts["_survivors"] = survivors  # type: ignore[assignment]
        by_module[module] = counts
    return by_module


def _sample_mutants(work: Path, modules: list[str], sample: int, seed: int) -> list[str]:
    """Up to `sample` mutant names per module, drawn at random (fixed seed) from the mutants
    mutmut generated. A mutant of a function no selected test runs is marked "no tests"
    here (mutmut cannot be asked to run it by name) and counts as a survivor."""
    stats = json.loads((work / "mutants" / "mutmut-stats.json").read_text())
    tested = {name for name, tests in stats["tests_by_mangled_function_name"].items() if tests}
    chosen: list[str] = []
    for module in modules:
        meta_path = work / "mutants" / (module + ".meta")
        meta = json.loads(meta_path.read_text())
        names = sorted(meta["exit_code_by_key"])
        picked = random.Random(f"{seed}:{module}").sample(names, min(sample, len(names)))
        for name in picked:
            if name.partition("__mutmut_")[0] in tested:
                chosen.append(name)
            else:
                meta["exit_code_by_key"][name] = 33
        meta_path.write_text(json.dumps(meta))
    return chosen


def run_group(
    name: str, work_root: Path, max_children: int, sample: int | None = None, seed: int = 32
) -> dict[str, Counter]:
    packages, modules, tests = GROUPS[name]
    work = work_root / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    _copy_tree(work)
    _write_config(work, packages, modules, tests)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = str(work / "_snapshot")  # after mutants/ (mutmut puts it first)
    mutmut = Path(sys.executable).with_name("mutmut")
    started = time.monotonic()
    print(f"[{name}] mutmut in {work} ({len(modules)} modules, {len(tests)} test files)")
    log = work / "mutmut.log"
    command = ["nice", "-n", "15", str(mutmut), "run", "--max-children", str(max_children)]
    with log.open("w") as out:
        if sample is not None:
            # generate every mutant and map tests to functions; a name that matches no
            # mutant stops mutmut right there (it asserts), then the sample runs by name
            subprocess.run([*command, "no-such-mutant"], cwd=work, env=env, stdout=out, stderr=out)
            command += _sample_mutants(work, modules, sample, seed)
            print(f"[{name}] a sample of {sample} mutants per module (seed {seed})")
        completed = subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    print(f"[{name}] mutmut exited {completed.returncode} in {time.monotonic() - started:.0f} s")
    if completed.returncode != 0:
        print(log.read_text()[-3000:])
    return _results(work, modules)


def recheck_group(name: str, work_root: Path, max_children: int) -> dict[str, Counter]:
    """Run the survivors of an earlier run of `name` in `work_root` again, against the
    repository's tests as they are now (tests added since are mapped to functions by
    mutmut's incremental stats); the mutated sources stay those of the earlier run."""
    packages, modules, tests = GROUPS[name]
    work = work_root / name
    shutil.copytree(ROOT / "tests", work / "tests", dirs_exist_ok=True)
    _write_config(work, packages, modules, tests)
    survivors = []
    for module in modules:
        meta = json.loads((work / "mutants" / (module + ".meta")).read_text())
        survivors += [key for key, code in meta["exit_code_by_key"].items() if code == 0]
    print(f"[{name}] re-checking {len(survivors)} survivors in {work}")
    if survivors:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        if (work / "_snapshot").is_dir():
            env["PYTHONPATH"] = str(work / "_snapshot")
        mutmut = Path(sys.executable).with_name("mutmut")
        command = ["nice", "-n", "15", str(mutmut), "run", "--max-children", str(max_children)]
        with (work / "mutmut-recheck.log").open("w") as out:
            subprocess.run(
                [*command, *survivors], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
            )
    return _results(work, modules)


def report(results: dict[str, Counter]) -> float:
    """Prints the table; returns the overall kill rate over the mutants that were checked
    (a stopped run leaves some "not checked": they are counted apart, not as survivors)."""
    print(
        f"\n{'module':<40} {'mutants':>7} {'checked':>7} {'killed':>7} {'survived':>8} "
        f"{'other':>6} {'kill %':>7}"
    )
    total_killed = total_checked = total = 0
    for module, counts in results.items():
        survivors = counts.pop("_survivors")
        n = sum(counts.values())
        checked = n - counts["not checked"]
        killed = counts["killed"]
        other = checked - killed - counts["survived"]
        rate = 100.0 * killed / checked if checked else float("nan")
        print(
            f"{module:<40} {n:>7} {checked:>7} {killed:>7} {counts['survived']:>8} "
            f"{other:>6} {rate:>6.1f}%"
        )
        for survivor in survivors:
            print(f"    survived: {survivor}")
        total_killed += killed
        total_checked += checked
        total += n
    overall = 100.0 * total_killed / total_checked if total_checked else float("nan")
    print(
        f"{'all':<40} {total:>7} {total_checked:>7} {total_killed:>7} {'':>8} {'':>6} {overall:>6.1f}%"
    )
    return overall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "groups", nargs="*", help=f"of {', '.join(GROUPS)} [{' '.join(DEFAULT_GROUPS)}]"
    )
    parser.add_argument("--work", default=None, help="scratch folder [a new temp folder]")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--goal", type=float, default=90.0, help="kill-rate goal, percent")
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        help="check only this many mutants per module, drawn at random (a run that would not "
        "finish in time; the rest are reported as not checked)",
    )
    parser.add_argument("--seed", type=int, default=32, help="of the --sample draw")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="run the survivors of the runs already in --work again against today's tests",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="summarise the runs already in --work"
    )
    args = parser.parse_args()
    unknown = sorted(set(args.groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    work_root = Path(args.work or tempfile.mkdtemp(prefix="dp-mutation-"))
    results: dict[str, Counter] = {}
    for group in args.groups or DEFAULT_GROUPS:
        if args.report_only:
            results |= _results(work_root / group, GROUPS[group][1])
        elif args.recheck:
            results |= recheck_group(group, work_root, args.max_children)
        else:
            results |= run_group(group, work_root, args.max_children, args.sample, args.seed)
    overall = report(results)
    gap = args.goal - overall
    print(
        f"goal {args.goal:.0f} % killed: "
        + ("met" if gap <= 0 else f"missed by {gap:.1f} points (survivors listed above)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
