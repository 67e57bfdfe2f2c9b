"""`dp inspect`: a person-readable view of an artifact, manifest, JSON file or key prefix."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from dp_core.artifact import META_ENTRY, decode_artifact
from dp_core.manifest import Manifest
from dp_resources.storage.backends import open_storage

console = Console()


def inspect_target(target: str, storage_base: str | None) -> None:
    path = Path(target)
    if path.is_file():
        _show(path.name, path.read_bytes())
        return
    base = storage_base or os.environ.get("DP_STORAGE") or ".dp/storage"
    storage = open_storage(base)
    key = target.strip("/")
    if storage.exists(key):
        _show(key, storage.get_bytes(key))
        return
    keys = list(storage.list(key))
    if not keys:
        raise FileNotFoundError(
            f"{target!r} is neither a file nor a key or prefix in {storage.base}"
        )
    console.print(f"[bold]{len(keys)} objects under {key}/[/bold] in {storage.base}")
    for item in keys:
        console.print(f"  {item}")


def _show(name: str, data: bytes) -> None:
    if data[:4] == b"PK\x03\x04":
        _show_npz(name, data)
        return
    value = json.loads(data)
    if isinstance(value, dict) and {"run", "video", "components"} <= value.keys():
        _show_manifest(Manifest.model_validate(value))
    else:
        console.print_json(json.dumps(value))


def _show_npz(name: str, data: bytes) -> None:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        has_meta = META_ENTRY in npz.files
    if has_meta:
        artifact = decode_artifact(data, source=name)
        console.print(f"[bold]{name}[/bold]")
        console.print_json(artifact.meta.model_dump_json())
        arrays = artifact.arrays
    else:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        console.print(f"[bold]{name}[/bold] (no meta: a frames_dir chunk)")
    table = Table(title="arrays")
    for column in ("name", "shape", "dtype", "summary"):
        table.add_column(column)
    for array_name, array in arrays.items():
        table.add_row(array_name, str(array.shape), str(array.dtype), _summary(array))
    console.print(table)


def _summary(array: np.ndarray) -> str:
    if array.size == 0:
        return "empty"
    if array.dtype.kind in "US":
        shown = ", ".join(repr(str(v)) for v in array.ravel()[:5])
        return shown + (" …" if array.size > 5 else "")
    if array.dtype.kind in "biuf":
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        if finite.size == 0:
            return "all non-finite"
        if array.size == 1:
            return str(array.ravel()[0])
        return f"min {finite.min():.4g} · mean {finite.mean():.4g} · max {finite.max():.4g}"
    return ""


def _show_manifest(manifest: Manifest) -> None:
    run, video = manifest.run, manifest.video
    console.print(
        f"[bold]manifest[/bold] {video.platform}/{video.video_id} ({video.source_name}) · "
        f"run {run.run_id} · {run.status}\n"
        f"profile {run.profile} (config_hash {run.config_hash}) · dataprocessor "
        f"{run.dataprocessor_version} · {run.started_at} → {run.finished_at}"
    )
    table = Table()
    for column in ("component", "required", "status", "error", "ms", "artifact"):
        table.add_column(column, overflow="fold")
    for c in manifest.components:
        error = f"{c.error_code.value}: {c.error_message}" if c.error_code else ""
        table.add_row(
            c.name,
            "yes" if c.required else "",
            c.status,
            error,
            f"{c.duration_ms:.0f}" if c.duration_ms is not None else "",
            c.artifact_key or "",
        )
    console.print(table)
