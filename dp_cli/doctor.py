"""`dp doctor`: is this machine ready to run a profile? Each check says ok / FAIL and why."""

from __future__ import annotations

import json
import os
import socket
import sys
import uuid
from collections.abc import Callable
from urllib.parse import urlparse

from rich.console import Console
from rich.table import Table

from dp_core.errors import DpError


def _pyav() -> str:
    import io

    import av
    import numpy as np

    # Encode and decode two H.264 frames in memory: proves the codecs, not just the import.
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(2):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer) as src:
        frames = sum(1 for _ in src.decode(video=0))
    libs = av.library_versions
    return f"PyAV {av.__version__}, libavcodec {'.'.join(map(str, libs['libavcodec']))}, H.264 round trip {frames} frames"


def _onnxruntime() -> str:
    import onnxruntime

    return (
        f"{onnxruntime.__version__}, providers: {', '.join(onnxruntime.get_available_providers())}"
    )


def _profile(name: str) -> Callable[[], str]:
    def check() -> str:
        from dp_assets.components import load_profile

        profile = load_profile(name)  # unknown components, bad params: CONFIG_INVALID
        return f"{profile.name} (config_hash {profile.config_hash}): {', '.join(profile.component_order())}"

    return check


def _models(name: str) -> Callable[[], str]:
    def check() -> str:
        from dp_assets.components import load_profile, model_families
        from dp_core.errors import ErrorCode
        from dp_resources.models.registry import (
            component_model_dir,
            family,
            resolve_component,
            shown_digest,
        )

        profile = load_profile(name)
        families = model_families()
        loaded, missing = [], []
        for component in profile.component_order():
            if component not in families:
                continue
            # what the manifest will record
            entry = resolve_component(component, profile, families[component])
            if entry is None:  # the profile runs it without a model
                continue
            if not entry["present"]:
                missing.append(f"{component}: {entry['problem']}")
                continue
            model_family = family(entry["family"])
            if entry["runtime"] != "triton":  # load it: proves the runtime, not just files
                folder = component_model_dir(component, profile, model_family.name)
                args = () if model_family.packaged else (folder,)
                model_family.load(*args)
            for used in entry["models_used"]:
                label = " (stand-in)" if used["stand_in"] else ""
                loaded.append(
                    f"{component}: {used['name']} {used['version']} {used['precision']} "
                    f"{shown_digest(used['weights_digest'])}{label}"
                )
        if missing:
            raise DpError(ErrorCode.MODEL_NOT_FOUND, "; ".join(missing))
        return "; ".join(loaded) or "the profile needs no model"

    return check


def _storage(base: str) -> Callable[[], str]:
    def check() -> str:
        from dp_resources.storage.backends import open_storage

        storage = open_storage(base)
        key = f"doctor/probe-{uuid.uuid4().hex}"
        storage.put_bytes(key, b"ok")
        if storage.get_bytes(key) != b"ok":
            raise RuntimeError("read back different bytes than written")
        storage.delete(key)
        return f"{storage.base}: write/read/delete ok"

    return check


def _dagster_home() -> str:
    from dp_cli.home import open_instance

    instance = open_instance()
    return f"{os.environ['DAGSTER_HOME']} ({type(instance.run_storage).__name__})"


def _redis(url: str) -> Callable[[], str]:
    def check() -> str:
        parsed = urlparse(url)
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=3) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
        if not reply.startswith(b"+PONG"):
            raise RuntimeError(f"unexpected reply {reply!r}")
        return f"{url}: PONG"

    return check


def _triton(url: str) -> Callable[[], str]:
    def check() -> str:
        from dp_resources.services.health import check_triton

        result = check_triton(url, os.environ.get("DP_TRITON_PROTOCOL", "grpc"))
        if not result.ok:
            raise RuntimeError(result.detail)
        return result.detail

    return check


def run_doctor(profile: str, storage: str | None, as_json: bool) -> int:
    base = storage or os.environ.get("DP_STORAGE") or ".dp/storage"
    checks: list[tuple[str, Callable[[], str]]] = [
        ("python", lambda: sys.version.split()[0]),
        ("pyav/ffmpeg", _pyav),
        ("onnxruntime", _onnxruntime),
        ("profile", _profile(profile)),
        ("models", _models(profile)),
        ("storage", _storage(base)),
        ("dagster home", _dagster_home),
    ]
    if os.environ.get("DP_REDIS_URL"):
        checks.append(("redis", _redis(os.environ["DP_REDIS_URL"])))
    if os.environ.get("DP_TRITON_URL"):
        checks.append(("triton", _triton(os.environ["DP_TRITON_URL"])))
    rows = []
    for name, check in checks:
        try:
            rows.append({"check": name, "ok": True, "detail": check()})
        except Exception as exc:
            code = exc.code.value if isinstance(exc, DpError) else None
            rows.append({"check": name, "ok": False, "detail": str(exc), "error_code": code})
    if as_json:
        print(json.dumps({"checks": rows, "ok": all(r["ok"] for r in rows)}, indent=2))
    else:
        table = Table(title="dp doctor")
        for column in ("check", "", "detail"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(
                r["check"], "[green]ok[/green]" if r["ok"] else "[red]FAIL[/red]", r["detail"]
            )
        Console().print(table)
    return 0 if all(r["ok"] for r in rows) else 1
