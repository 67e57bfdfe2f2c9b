"""`dp export VIDEO|MANIFEST`: a run's shots as CSV (PySceneDetect's `list-scenes` columns),
JSON or a CMX3600 EDL, and any component's per-frame series as CSV or JSON.

The shots are cut_detection's, on the video's own frame grid (`dp_cli.shot_list`); a
component's series is the arrays of its artifact that share one time array (`*_times_s`):
one row per time, one column per array (a 2-D array gives one column per column), after a
`video_frame` column: the video frame (from 1) at that time.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import numpy as np

from dp_cli.shot_list import shots_csv, shots_edl
from dp_core.artifact import Artifact, decode_artifact, verify_digest
from dp_core.errors import DpError, ErrorCode
from dp_core.manifest import Manifest
from dp_resources.storage.backends import Storage


def _load(storage: Storage, manifest: Manifest, name: str) -> Artifact:
    """Component `name`'s artifact of the run, digest verified; a clear error when the run
    has none (skipped, failed) or it is not a component of the manifest."""
    record = next((c for c in manifest.components if c.name == name), None)
    if record is None:
        names = ", ".join(c.name for c in manifest.components)
        raise DpError(ErrorCode.CONFIG_INVALID, f"no component {name!r} in this run ({names})")
    if not record.artifact_key or record.status in ("error", "skipped"):
        why = record.error_message or ("not in the profile" if record.status == "skipped" else "")
        raise DpError(
            ErrorCode.INPUT_NOT_FOUND,
            f"{name} has no result in this run: {record.status}{f' ({why})' if why else ''}",
        )
    data = verify_digest(storage.get_bytes(record.artifact_key), record.sha256, record.artifact_key)
    return decode_artifact(data, source=record.artifact_key)


def shots_document(storage: Storage, key: str):
    """(the run's facts, its shots)."""
    from dp_cli.report_html import ReportInputs  # the Dagster graph's imports: only when run

    manifest = Manifest.model_validate_json(storage.get_bytes(key))
    inputs = ReportInputs(manifest, key, storage)
    for name in ("segmenter", "cut_detection"):
        inputs.artifacts[name] = _load(storage, manifest, name)
    if inputs.artifacts["cut_detection"].meta.status != "ok":
        raise DpError(ErrorCode.INPUT_NOT_FOUND, "cut_detection found no shots in this run")
    if not inputs.fps:
        raise DpError(ErrorCode.INPUT_NOT_FOUND, "the video has no frame rate (no picture?)")
    return inputs, inputs.shots()


def time_arrays(arrays) -> list[str]:
    """Names of an artifact's 1-D time arrays (`*times_s`)."""
    return [n for n, v in arrays.items() if n.endswith("times_s") and np.asarray(v).ndim == 1]


def series(arrays, times: str | None) -> tuple[str, dict[str, np.ndarray]]:
    """(time array, {column: values}) of the arrays aligned with one time array: `times`,
    or the one with most aligned arrays (then the longest)."""
    candidates = time_arrays(arrays)
    if not candidates:
        raise DpError(ErrorCode.INPUT_NOT_FOUND, "this component has no time series (*times_s)")
    if times is not None and times not in candidates:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"no time array {times!r}; this component has {', '.join(candidates)}",
        )

    def aligned(name: str) -> dict[str, np.ndarray]:
        n = len(arrays[name])
        columns = {name: np.asarray(arrays[name])}
        for other, value in arrays.items():
            value = np.asarray(value)
            if other == name or value.ndim not in (1, 2) or len(value) != n or n == 0:
                continue
            if value.ndim == 1:
                columns[other] = value
            else:
                for j in range(value.shape[1]):
                    columns[f"{other}_{j}"] = value[:, j]
        return columns

    chosen = times or max(candidates, key=lambda c: (len(aligned(c)), len(arrays[c])))
    return chosen, aligned(chosen)


def _cell(value) -> str:
    if isinstance(value, np.floating | float):  # shortest text that reads back the same
        return (
            str(np.float64(value) if isinstance(value, float) else value)
            if np.isfinite(value)
            else ""
        )
    if isinstance(value, np.bool_ | bool):
        return "true" if value else "false"
    return str(value.item() if isinstance(value, np.generic) else value)


def series_csv(columns: dict[str, np.ndarray], fps: float | None, times: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(columns)
    writer.writerow((["video_frame"] if fps else []) + names)
    for i in range(len(columns[times])):
        frame = [str(int(np.floor(float(columns[times][i]) * fps + 0.5)) + 1)] if fps else []
        writer.writerow(frame + [_cell(columns[n][i]) for n in names])
    return out.getvalue()


def _json_value(value: np.ndarray) -> list:
    if value.dtype.kind == "f":
        return [None if not np.isfinite(v) else float(v) for v in value.tolist()]
    return value.tolist()


@click.command("export")
@click.argument("target")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "edl"]),
    default="csv",
    show_default=True,
)
@click.option(
    "--component",
    default=None,
    help="a component's per-frame series instead of the shots (csv or json)",
)
@click.option("--times", default=None, help="with --component: which *_times_s array to follow")
@click.option("--storage", default=None, help="storage base [default: .dp/storage]")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="file [stdout]")
def export(target, fmt, component, times, storage, out) -> None:
    """Export a run's shots (CSV with PySceneDetect's columns, JSON, CMX3600 EDL) or a
    component's per-frame series (CSV, JSON). TARGET: a video file (its latest run), a
    manifest.json file or its key. Frames count from 1, as in PySceneDetect."""
    import sys

    try:
        text = _export(target, fmt, component, times, storage)
    except (DpError, FileNotFoundError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(str(Path(out).absolute()), err=True)
    else:
        click.echo(text, nl=False)


def _export(target: str, fmt: str, component: str | None, times: str | None, storage_base):
    from dp_cli.report_html import locate_manifest

    store, key = locate_manifest(target, storage_base)
    manifest = Manifest.model_validate_json(store.get_bytes(key))
    video = manifest.video
    if component is not None:
        if fmt == "edl":
            raise DpError(ErrorCode.CONFIG_INVALID, "an EDL holds shots: drop --component")
        artifact = _load(store, manifest, component)
        chosen, columns = series(artifact.arrays, times)
        segmenter = _load(store, manifest, "segmenter")
        fps = ((segmenter.meta.model_extra or {}).get("video_metadata") or {}).get("native_fps")
        if fmt == "csv":
            return series_csv(columns, fps, chosen)
        return (
            json.dumps(
                {
                    "video": f"{video.platform}/{video.video_id}",
                    "component": component,
                    "times": chosen,
                    "columns": {n: _json_value(v) for n, v in columns.items()},
                },
                indent=2,
            )
            + "\n"
        )
    inputs, shots = shots_document(store, key)
    if fmt == "csv":
        return shots_csv(shots)
    if fmt == "edl":
        name = video.source_name or video.video_id
        return shots_edl(shots, f"{video.platform}/{video.video_id}", name)
    document = {
        "video": f"{video.platform}/{video.video_id}",
        "source": video.source_name,
        "manifest_key": key,
        "run_id": manifest.run.run_id,
        "fps": inputs.fps,
        "duration_s": inputs.duration_s,
        "frame_count": inputs.video_meta.get("decoded_frames"),
        "shots": [shot.as_json() for shot in shots],
    }
    return json.dumps(document, indent=2) + "\n"
