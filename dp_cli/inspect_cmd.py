"""`dp inspect`: a person-readable view of an artifact, manifest, JSON file or key prefix,
or one JSON document (`--json`), and the values of chosen arrays (`--array NAME`).

Lines are never folded at the terminal's width (keys and digests are copied whole): a table
is printed as wide as it needs, and the terminal wraps the long lines itself.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from dp_core.artifact import META_ENTRY, decode_artifact
from dp_core.errors import DpError, ErrorCode
from dp_core.manifest import Manifest
from dp_resources.storage.backends import open_storage


def _console() -> Console:
    return Console(soft_wrap=True)


def _print(renderable, console: Console | None = None) -> None:
    """Print a table at its natural width, whatever the terminal's."""
    console = console or _console()
    needed = console.measure(renderable, options=console.options.update_width(100_000)).maximum
    if needed > console.width:
        console = Console(width=needed, file=console.file, soft_wrap=True)
    console.print(renderable)


def inspect_target(
    target: str, storage_base: str | None, as_json: bool = False, arrays: tuple[str, ...] = ()
) -> None:
    path = Path(target)
    if path.is_file():
        _show(path.name, path.read_bytes(), as_json, arrays)
        return
    base = storage_base or os.environ.get("DP_STORAGE") or ".dp/storage"
    storage = open_storage(base)
    key = target.strip("/")
    if storage.exists(key):
        _show(key, storage.get_bytes(key), as_json, arrays)
        return
    keys = list(storage.list(key))
    if not keys:
        raise FileNotFoundError(
            f"{target!r} is neither a file nor a key or prefix in {storage.base}"
        )
    if arrays:
        raise DpError(ErrorCode.CONFIG_INVALID, "--array needs one artifact, not a prefix")
    if as_json:
        print(json.dumps({"storage": storage.base, "prefix": key, "keys": keys}, indent=2))
        return
    console = _console()
    console.print(f"[bold]{len(keys)} objects under {key}/[/bold] in {storage.base}")
    for item in keys:
        console.print(f"  {item}", highlight=False)


def _show(name: str, data: bytes, as_json: bool, arrays: tuple[str, ...]) -> None:
    if data[:4] == b"PK\x03\x04":
        _show_npz(name, data, as_json, arrays)
        return
    if arrays:
        raise DpError(ErrorCode.CONFIG_INVALID, f"{name} is JSON, not an artifact with arrays")
    value = json.loads(data)
    if as_json:
        print(json.dumps(value, indent=2))
    elif isinstance(value, dict) and {"run", "video", "components"} <= value.keys():
        _show_manifest(Manifest.model_validate(value))
    else:
        _console().print_json(json.dumps(value))


def _json_values(array: np.ndarray):
    """Array values as nested JSON lists (a scalar for 0-d), NaN and infinities as null."""
    flat = array.ravel().tolist()
    if array.dtype.kind == "f":
        flat = [v if math.isfinite(v) else None for v in flat]
    holder = np.empty(len(flat), dtype=object)
    holder[:] = flat
    return holder.reshape(array.shape).tolist()


def _show_npz(name: str, data: bytes, as_json: bool, chosen: tuple[str, ...]) -> None:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        has_meta = META_ENTRY in npz.files
    meta = None
    if has_meta:
        artifact = decode_artifact(data, source=name)
        meta, arrays = artifact.meta, artifact.arrays
    else:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    unknown = [a for a in chosen if a not in arrays]
    if unknown:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"no array {', '.join(unknown)} in {name}; it has {', '.join(arrays)}",
        )
    if as_json:
        document = {
            "name": name,
            "meta": json.loads(meta.model_dump_json()) if meta is not None else None,
            "arrays": {
                n: {
                    "shape": list(np.shape(a)),
                    "dtype": str(np.asarray(a).dtype),
                    "summary": _summary(np.asarray(a)),
                    **({"values": _json_values(np.asarray(a))} if n in chosen else {}),
                }
                for n, a in arrays.items()
            },
        }
        print(json.dumps(document, indent=2))
        return
    console = _console()
    if chosen:  # only the values asked for
        with np.printoptions(threshold=sys.maxsize, linewidth=sys.maxsize):
            for array_name in chosen:
                array = np.asarray(arrays[array_name])
                console.print(f"[bold]{array_name}[/bold] {array.shape} {array.dtype}")
                console.print(np.array2string(array, separator=", "), highlight=False)
        return
    if meta is not None:
        console.print(f"[bold]{name}[/bold]")
        console.print_json(meta.model_dump_json())
    else:
        console.print(f"[bold]{name}[/bold] (no meta: a frames_dir chunk)")
    table = Table(title="arrays")
    for column in ("name", "shape", "dtype", "summary"):
        table.add_column(column, no_wrap=True)
    for array_name, array in arrays.items():
        table.add_row(array_name, str(array.shape), str(array.dtype), _summary(array))
    _print(table, console)
    console.print("values of an array: dp inspect KEY --array NAME", style="dim")


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
    console = _console()
    console.print(
        f"[bold]manifest[/bold] {video.platform}/{video.video_id} ({video.source_name}) · "
        f"run {run.run_id} · {run.status}\n"
        f"profile {run.profile} (config_hash {run.config_hash}) · dataprocessor "
        f"{run.dataprocessor_version} · {run.started_at} → {run.finished_at}"
    )
    table = Table()
    for column in ("component", "required", "status", "error", "ms", "artifact"):
        table.add_column(column, no_wrap=True)
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
    _print(table, console)
