"""`dp dataset build`, `dp train`, `dp dataset sample`: the dataset jobs on the embedded
instance.

`dp dataset build` runs the job `build_dataset` (feature_table + training_dataset); `dp
train` the job `train_popularity_model` (popularity_model + model_report) on the latest
training_dataset of the same instance. Both print tables (where things landed, the
task, the metrics against the baselines, the verdict, warnings), or with `--json` one
JSON document. `dp dataset sample` writes the SYNTHETIC sample (result store + snapshots).
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


def run_dataset_job(
    instance, storage_base: str, job_name: str, run_config: dict
) -> tuple[dict[str, dict], str | None]:
    """Run the named dataset job on `instance` (a DagsterInstance).

    Returns ({asset: metadata}, None), or ({what landed so far}, the error message).
    """
    from dagster import DagsterEventType, Definitions

    from dp_assets.dataset import DATASET_ASSETS, DATASET_JOBS
    from dp_resources.storage.resource import StorageResource

    definitions = Definitions(
        assets=DATASET_ASSETS,
        jobs=DATASET_JOBS,
        resources={"storage": StorageResource(base=storage_base)},
    )
    result = definitions.resolve_job_def(job_name).execute_in_process(
        instance=instance,
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


def _plain(value) -> str:
    """A metadata value as text: numbers rounded, containers as compact JSON."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(", ", ": "))
    return str(value)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    lines = [line, "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return lines


FACTS = (
    "rows",
    "dataset_hash",
    "horizon_hours",
    "prediction_hours",
    "train_rows",
    "validation_rows",
    "test_rows",
    "dropped_by_split",
    "videos_without_target",
    "videos_without_snapshots",
    "feature_columns",
    "test_cut",
    "best_rounds",
)
METRIC_COLUMNS = ("spearman", "mae_log", "r2", "mape_log", "bias_log")


def render_text(storage_base: str, landed: dict, files: list[str]) -> list[str]:
    """What the commands print without --json: one table of facts per asset, the metrics."""
    lines = []
    for name, metadata in landed.items():
        lines.append(f"{name}: {storage_base}/{metadata['storage_key']}")
        rows = [[key, _plain(metadata[key])] for key in FACTS if key in metadata]
        dropped = metadata.get("dropped_columns")
        if isinstance(dropped, dict):
            rows += [[f"dropped columns: {k}", str(len(v))] for k, v in dropped.items()]
        if rows:
            lines += ["  " + line for line in _table(["fact", "value"], rows)]
        for warning in metadata.get("warnings") or []:
            lines.append(f"  warning: {warning}")
        for found in metadata.get("correlations") or []:
            lines.append(
                f"  warning: {found['feature']} ranks videos like {found['target']} "
                f"(Spearman {found['spearman']}): known at T, so kept; read it"
            )
        for target, series in (metadata.get("metrics") or {}).items():
            rows = [
                [
                    label,
                    *(
                        _plain(values.get(m)) if values.get(m) is not None else "n/a"
                        for m in METRIC_COLUMNS
                    ),
                ]
                for label, values in series.items()
            ]
            lines.append(f"  {target} (test split, log1p of the count at H):")
            lines += ["    " + line for line in _table(["predictor", *METRIC_COLUMNS], rows)]
        if "verdict" in metadata:
            lines += [f"  {line}" for line in str(metadata["verdict"]).splitlines()]
    lines += [f"  copied {path}" for path in files]
    return lines


def _finish(landed: dict, error: str | None, storage_base: str, out: str | None, as_json: bool):
    files = copy_outputs(storage_base, landed, Path(out)) if out and landed else []
    if as_json:
        document = {"storage_base": storage_base, "assets": landed, "files": files}
        if error:
            document["error"] = error
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        for line in render_text(storage_base, landed, files):
            click.echo(line)
    if error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@click.group("dataset")
def dataset() -> None:
    """Feature table and leakage-checked training dataset from the result store."""


@dataset.command("build")
@click.option(
    "--snapshots",
    envvar="DP_SNAPSHOTS",
    required=True,
    help="snapshot parquet/CSV file or folder [env DP_SNAPSHOTS]",
)
@click.option("--storage", default=None, help="folder or s3://bucket/prefix [.dp/storage]")
@click.option("--out", default=None, help="also copy the outputs into this folder")
@click.option("--profile", default=None, help="profile whose dataset: section applies")
@click.option("--horizon-hours", type=float, default=None, help="target age H [profile: 168]")
@click.option("--prediction-hours", type=float, default=None, help="prediction time T [24]")
@click.option("--split-time", default=None, help="ISO upload time: test = uploads at/after it")
@click.option("--test-fraction", type=float, default=None, help="share of channels in test")
@click.option("--min-train-rows", type=int, default=None, help="refuse below [profile: 50]")
@click.option("--min-test-rows", type=int, default=None, help="refuse below [profile: 20]")
@click.option("--include-stand-in", is_flag=True, help="keep the features of stand-in models")
@click.option(
    "--embedding-pca", type=int, default=None, help="PCA columns per real-model embedding [0]"
)
@click.option("--enrichment", default=None, help="folder of recorded YouTube API answers")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
def dataset_build(
    snapshots,
    storage,
    out,
    profile,
    horizon_hours,
    prediction_hours,
    split_time,
    test_fraction,
    min_train_rows,
    min_test_rows,
    include_stand_in,
    embedding_pca,
    enrichment,
    as_json,
) -> None:
    """Build feature_table and training_dataset (job build_dataset)."""
    from dp_cli.home import open_instance

    base = _storage_base(storage)
    config = {
        "snapshots_path": str(Path(snapshots).absolute()),
        "profile": profile or "",
        "horizon_hours": horizon_hours,
        "prediction_hours": prediction_hours,
        "split_time": split_time,
        "test_fraction": test_fraction,
        "min_train_rows": min_train_rows,
        "min_test_rows": min_test_rows,
        "include_stand_in": True if include_stand_in else None,
        "embedding_pca_components": embedding_pca,
        "enrichment_recordings": str(Path(enrichment).absolute()) if enrichment else None,
    }
    landed, error = run_dataset_job(
        open_instance(),
        base,
        "build_dataset",
        {"ops": {"training_dataset": {"config": config}}},
    )
    _finish(landed, error, base, out, as_json)


@dataset.command("sample")
@click.option("--dir", "folder", default="samples/popularity", show_default=True)
@click.option("--videos", type=int, default=300, show_default=True)
def dataset_sample(folder, videos) -> None:
    """Write the SYNTHETIC sample: a result store and its snapshots (labelled synthetic)."""
    from dp_features.dataset.synthetic import write_sample
    from dp_resources.storage.backends import LocalStorage

    paths = write_sample(
        Path(folder).absolute(), LocalStorage, count=videos, channels=max(1, videos // 10)
    )
    click.echo(f"synthetic sample store: {paths['store']}")
    click.echo(f"synthetic snapshots:    {paths['snapshots']}")
    click.echo(
        f"next: dp dataset build --storage {paths['store']} --snapshots {paths['snapshots']} "
        f"&& dp train --storage {paths['store']}"
    )


@click.command("train")
@click.option("--storage", default=None, help="folder or s3://bucket/prefix [.dp/storage]")
@click.option("--out", default=None, help="also copy the models and report into this folder")
@click.option("--rounds", type=int, default=1000, show_default=True, help="most boosting rounds")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")
def train(storage, out, rounds, as_json) -> None:
    """Train popularity_model on the latest training_dataset and write model_report
    (job train_popularity_model)."""
    from dp_cli.home import open_instance

    base = _storage_base(storage)
    landed, error = run_dataset_job(
        open_instance(),
        base,
        "train_popularity_model",
        {"ops": {"popularity_model": {"config": {"num_boost_round": rounds}}}},
    )
    _finish(landed, error, base, out, as_json)
