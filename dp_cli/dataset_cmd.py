"""`dp dataset build` and `dp train`: the dataset assets, run on the embedded instance.

`dp dataset build` materializes feature_table + training_dataset; `dp train` materializes
popularity_model + model_report from the latest training_dataset of the same instance.
Both print where things landed (storage keys, and files under `--out`), or one JSON document.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import click

# Dagster, LightGBM and matplotlib load inside the commands: `dp --help` stays fast.


def _storage_base(storage: str | None) -> str:
    base = storage or os.environ.get("DP_STORAGE") or ".dp/storage"
    return base if base.startswith("s3://") else str(Path(base).expanduser().absolute())


def run_dataset_assets(
    instance, storage_base: str, asset_names: list[str], run_config: dict
) -> tuple[dict[str, dict], str | None]:
    """Materialize the named dataset assets on `instance` (a DagsterInstance).

    Returns ({asset: metadata}, None), or ({what landed so far}, the error message).
    """
    from dagster import DagsterEventType, materialize

    from dp_assets.dataset import DATASET_ASSETS
    from dp_resources.storage.resource import StorageResource

    assets = [a for a in DATASET_ASSETS if a.key.to_user_string() in asset_names]
    result = materialize(
        assets,
        instance=instance,
        resources={"storage": StorageResource(base=storage_base)},
        # the command prints the error itself; Dagster's console log would repeat it
        run_config={**run_config, "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        raise_on_error=False,
    )
    landed = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        landed[materialization.asset_key.to_user_string()] = {
            k: v.value for k, v in materialization.metadata.items()
        }
    if result.success:
        return landed, None
    failures = [
        e.event_specific_data.error
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    ]
    messages = []
    for error in failures:
        cause = error.cause or error
        messages.append(re.sub(r"^[\w.]+: ", "", cause.message.strip()))  # drop the class
    return landed, "\n".join(messages) or "the run failed"


def copy_outputs(storage_base: str, landed: dict[str, dict], out: Path) -> list[str]:
    """Copy every object in the folders the assets wrote to `out`; returns the files."""
    from dp_resources.storage.backends import open_storage

    store = open_storage(storage_base)
    folders = sorted({meta["storage_key"].rsplit("/", 1)[0] for meta in landed.values()})
    written = []
    for folder in folders:
        for key in store.list(folder):
            target = out / key
            store.get_file(key, target)  # streamed, and published whole
            written.append(str(target))
    return written


def _finish(landed: dict, error: str | None, storage_base: str, out: str | None, as_json: bool):
    files = copy_outputs(storage_base, landed, Path(out)) if out and landed else []
    if as_json:
        document = {"storage_base": storage_base, "assets": landed, "files": files}
        if error:
            document["error"] = error
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        for name, metadata in landed.items():
            click.echo(f"{name}: {storage_base}/{metadata['storage_key']}")
            for key in ("rows", "dataset_hash", "train_rows", "test_rows", "split_time"):
                if key in metadata:
                    click.echo(f"    {key}: {metadata[key]}")
            if "metrics" in metadata:
                for target, series in metadata["metrics"].items():
                    click.echo(f"    {target}: " + ", ".join(f"{k} {v}" for k, v in series.items()))
        for path in files:
            click.echo(f"  copied {path}")
    if error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@click.group("dataset")
def dataset() -> None:
    """Feature table and leakage-checked training dataset from the result store."""


@dataset.command("build")
@click.option("--snapshots", required=True, help="snapshot parquet/CSV file or folder")
@click.option("--storage", default=None, help="folder or s3://bucket/prefix [.dp/storage]")
@click.option("--out", default=None, help="also copy the outputs into this folder")
@click.option("--split-time", default=None, help="ISO time: test = targets at/after it")
@click.option("--test-fraction", type=float, default=0.2, show_default=True)
@click.option("--no-prior-snapshots", is_flag=True, help="no features from earlier snapshots")
@click.option("--enrichment", default=None, help="folder of recorded YouTube API answers")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
def dataset_build(
    snapshots, storage, out, split_time, test_fraction, no_prior_snapshots, enrichment, as_json
) -> None:
    """Build feature_table and training_dataset."""
    from dp_cli.home import open_instance

    base = _storage_base(storage)
    config = {
        "snapshots_path": str(Path(snapshots).absolute()),
        "split_time": split_time,
        "test_fraction": test_fraction,
        "use_prior_snapshots": not no_prior_snapshots,
        "enrichment_recordings": str(Path(enrichment).absolute()) if enrichment else None,
    }
    landed, error = run_dataset_assets(
        open_instance(),
        base,
        ["feature_table", "training_dataset"],
        {"ops": {"training_dataset": {"config": config}}},
    )
    _finish(landed, error, base, out, as_json)


@click.command("train")
@click.option("--storage", default=None, help="folder or s3://bucket/prefix [.dp/storage]")
@click.option("--out", default=None, help="also copy the models and report into this folder")
@click.option("--rounds", type=int, default=300, show_default=True, help="boosting rounds")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
def train(storage, out, rounds, as_json) -> None:
    """Train popularity_model on the latest training_dataset and write model_report."""
    from dp_cli.home import open_instance

    base = _storage_base(storage)
    landed, error = run_dataset_assets(
        open_instance(),
        base,
        ["popularity_model", "model_report"],
        {"ops": {"popularity_model": {"config": {"num_boost_round": rounds}}}},
    )
    _finish(landed, error, base, out, as_json)
