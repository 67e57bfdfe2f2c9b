"""The optional sidecar `<video>.json` beside a video: identity and text metadata."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from dp_core.errors import DpError, ErrorCode


class Sidecar(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    platform: str | None = None
    video_id: str | None = None
    title: str | None = None
    description: str | None = None
    tags: list[str] = []
    channel_id: str | None = None
    published_at: str | None = None


def sidecar_path(video: Path) -> Path:
    return video.with_suffix(".json")


def parse_sidecar(data: bytes, source: str) -> Sidecar:
    """Parse sidecar bytes; non-UTF-8, bad JSON or wrong field types are INPUT_CORRUPT."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DpError(
            ErrorCode.INPUT_CORRUPT, f"sidecar {source}: not UTF-8 (byte {exc.start})"
        ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DpError(
            ErrorCode.INPUT_CORRUPT,
            f"sidecar {source}: not valid JSON ({exc.msg}, line {exc.lineno})",
        ) from None
    if not isinstance(value, dict):
        raise DpError(ErrorCode.INPUT_CORRUPT, f"sidecar {source}: must be a JSON object")
    try:
        return Sidecar.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise DpError(ErrorCode.INPUT_CORRUPT, f"sidecar {source}: {problems}") from None
