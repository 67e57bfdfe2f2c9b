"""The optional sidecar `<video>.json` beside a video: identity and text metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from dp_core.errors import DpError, ErrorCode

# a sidecar is a few fields of text; a bigger one is refused before it is parsed (its fields
# are copied into the upload record in Dagster's event log) (docs/SECURITY.md)
MAX_SIDECAR_BYTES = 1 << 20


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


@dataclass(frozen=True)
class SidecarReading:
    """A sidecar read field by field: `sidecar` keeps every valid field, `problems` names
    each invalid one (that field is dropped; the others, `video_id` above all, are kept)."""

    sidecar: Sidecar
    problems: tuple[str, ...] = ()


def read_sidecar(data: bytes, source: str) -> SidecarReading:
    """Read sidecar bytes. Non-UTF-8, bad JSON or a non-object is INPUT_CORRUPT (nothing in
    it can be trusted); a field of the wrong type is a problem naming it, not a loss of
    the whole sidecar. Over MAX_SIDECAR_BYTES is RESOURCE_EXHAUSTED."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise DpError(
            ErrorCode.RESOURCE_EXHAUSTED,
            f"sidecar {source}: {len(data)} bytes, over the limit of {MAX_SIDECAR_BYTES}",
        )
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
    except RecursionError:  # `[[[[...` nested deeper than the parser's recursion limit
        raise DpError(
            ErrorCode.INPUT_CORRUPT, f"sidecar {source}: JSON nested too deeply"
        ) from None
    if not isinstance(value, dict):
        raise DpError(ErrorCode.INPUT_CORRUPT, f"sidecar {source}: must be a JSON object")
    valid, problems = {}, []
    for name in Sidecar.model_fields:
        if name not in value:
            continue
        try:
            Sidecar.model_validate({name: value[name]})
        except ValidationError as exc:
            problems.extend(
                f"sidecar {source}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors()
            )
        else:
            valid[name] = value[name]
    return SidecarReading(Sidecar.model_validate(valid), tuple(problems))


def parse_sidecar(data: bytes, source: str) -> Sidecar:
    """A sidecar that must be wholly valid: any problem is INPUT_CORRUPT naming it."""
    reading = read_sidecar(data, source)
    if reading.problems:
        raise DpError(ErrorCode.INPUT_CORRUPT, "; ".join(reading.problems))
    return reading.sidecar
