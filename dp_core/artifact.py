"""NPZ artifacts: named numpy arrays plus one JSON `meta` entry, loadable without pickle.

Encoding and decoding work on bytes; the storage layer makes the write atomic.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes, sha256_json

SCHEMA_VERSION = 1
META_ENTRY = "meta"

ArtifactStatus = Literal["ok", "empty", "error"]


class ModelUsed(BaseModel):
    """One model that served a component: what it is and how it ran."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    weights_digest: str = Field(description="sha256 of the weights file(s) as loaded")
    engine: str = Field(description="onnxruntime | triton | tensorrt | mediapipe | ...")
    precision: str = Field(description="fp32 | fp16 | int8")
    device: str = Field(description="cpu | cuda:0 | triton:<url>")
    stand_in: bool = Field(
        default=False, description="true for a test model with random weights, never a real one"
    )
    verified: bool = Field(
        default=False,
        description="true only for a real model: its weights digest is one the model-family "
        "registry pins (dp_resources.models.registry.PINNED_DIGESTS); false: stand-in or "
        "unverified",
    )


class ArtifactRef(BaseModel):
    """Where an artifact lies and what its bytes hash to (lineage: an artifact's meta names
    every input it was computed from this way)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    sha256: str
    run_id: str


# the segmenter's lineage entry for the source file it was made from
SOURCE_INPUT = "upload"


class ArtifactMeta(BaseModel):
    """The required meta of every artifact (SPEC: NPZ artifact)."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    component: str
    component_version: str
    dataprocessor_version: str
    run_id: str
    platform: str
    video_id: str
    status: ArtifactStatus
    error_code: ErrorCode | None = None
    error_message: str | None = None
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    config_hash: str
    models_used: list[ModelUsed] = Field(default_factory=list)
    model_signature: str = ""
    warnings: list[str] = Field(default_factory=list)
    duration_ms: float | None = None
    device_used: str | None = None
    analysis_fps: float | None = None
    analysis_width: int | None = None
    analysis_height: int | None = None
    inputs: dict[str, ArtifactRef] = Field(
        default_factory=dict, description="component -> the artifact it read (key, sha256)"
    )

    def model_post_init(self, _context) -> None:
        # The signature is derived, never supplied: changing any model's engine or
        # precision changes it.
        self.model_signature = model_signature(self.models_used)
        if self.status == "error" and self.error_code is None:
            raise ValueError("an artifact with status 'error' needs an error_code")


def model_signature(models_used: list[ModelUsed]) -> str:
    """A hash of every `models_used` entry (order-insensitive); '' when no model ran.
    `verified` follows from `weights_digest` (the registry's pins), so it is left out: pinning
    a digest does not change the signature of what ran."""
    if not models_used:
        return ""
    entries = sorted(
        (m.model_dump(mode="json", exclude={"verified"}) for m in models_used), key=sha256_json
    )
    return sha256_json(entries)[:16]


@dataclass
class Artifact:
    meta: ArtifactMeta
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    # where it was read from or written to; its encoded bytes once sealed for writing
    ref: ArtifactRef | None = None
    encoded: bytes | None = field(default=None, repr=False, compare=False)


def seal(artifact: Artifact, key: str) -> Artifact:
    """Encode `artifact` once for writing at `key`: its bytes and their digest travel with
    it, so the digest recorded in Dagster is the digest of exactly what is stored."""
    artifact.encoded = encode_artifact(artifact)
    artifact.ref = ArtifactRef(
        key=key, sha256=sha256_bytes(artifact.encoded), run_id=artifact.meta.run_id
    )
    return artifact


def verify_digest(data: bytes, expected_sha256: str | None, key: str) -> bytes:
    """`data` when it hashes to `expected_sha256` (or nothing was recorded); INPUT_CORRUPT
    naming `key` otherwise: it changed, or was replaced, after its writer recorded it."""
    if expected_sha256 and sha256_bytes(data) != expected_sha256:
        raise DpError(
            ErrorCode.INPUT_CORRUPT,
            f"{key} does not match the sha256 its writer recorded "
            f"({sha256_bytes(data)[:12]}… != {expected_sha256[:12]}…): changed or replaced "
            "after it was written",
        )
    return data


def encode_artifact(artifact: Artifact) -> bytes:
    """Serialise to NPZ bytes; refuses arrays that would need pickle to load."""
    arrays = {}
    for name, value in artifact.arrays.items():
        if name == META_ENTRY:
            raise DpError(ErrorCode.INTERNAL, f"array name {META_ENTRY!r} is reserved")
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise DpError(
                ErrorCode.INTERNAL,
                f"array {name!r} has dtype object; store strings as a numpy unicode array",
            )
        arrays[name] = array
    meta_json = artifact.meta.model_dump_json()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays, **{META_ENTRY: np.array(meta_json)})
    return buffer.getvalue()


def decode_artifact(data: bytes, source: str = "<bytes>") -> Artifact:
    """Load NPZ bytes with `allow_pickle=False` and validate the meta."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, zlib.error, KeyError) as exc:
        raise DpError(
            ErrorCode.INPUT_CORRUPT, f"{source} is not a valid NPZ artifact: {exc}"
        ) from exc
    if META_ENTRY not in arrays:
        raise DpError(ErrorCode.INPUT_CORRUPT, f"{source} has no {META_ENTRY!r} entry")
    meta_array = arrays.pop(META_ENTRY)
    try:
        meta = ArtifactMeta.model_validate(json.loads(str(meta_array)))
    except (ValueError, ValidationError) as exc:
        raise DpError(ErrorCode.INPUT_CORRUPT, f"{source} has invalid meta: {exc}") from exc
    return Artifact(meta=meta, arrays=arrays)
