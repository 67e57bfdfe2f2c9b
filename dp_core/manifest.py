"""The run manifest: one per video per run, written once at the end by one writer.

It holds no absolute path: artifact locations are storage keys relative to the storage
base, and the base itself is described by kind (local | s3 bucket + prefix) only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dp_core.errors import ErrorCode

MANIFEST_SCHEMA_VERSION = 1

ComponentStatus = Literal["success", "empty", "error", "skipped"]
ARTIFACT_TO_COMPONENT_STATUS: dict[str, ComponentStatus] = {
    "ok": "success",
    "empty": "empty",
    "error": "error",
}


class ComponentRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    required: bool
    status: ComponentStatus
    error_code: ErrorCode | None = None
    error_message: str | None = None
    warnings: list[str] = Field(default_factory=list)
    device_used: str | None = None
    duration_ms: float | None = None
    artifact_key: str | None = None
    sha256: str | None = None  # of the artifact's bytes, as written
    reused_from_run: str | None = None  # up to date: not recomputed, made by that run
    model_signature: str = ""


class RunSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    dataprocessor_version: str
    profile: str
    config_hash: str
    analysis: dict
    # component -> the resolved model ({model, version, weights_digest, precision, engine,
    # runtime, device, stand_in, ...}: dp_resources/models/registry.py); older manifests
    # and a profile's explicit entries hold a plain model name.
    resolved_model_mapping: dict[str, str | dict[str, Any]]
    storage: dict
    started_at: str | None
    finished_at: str | None
    dagster_run_status: str
    status: Literal["success", "error"]


class VideoSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: str
    video_id: str
    partition_key: str
    source_name: str | None = None
    # the content the run read: `sha256:<hex>` of a local file, an ETag digest for S3
    source_digest: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = MANIFEST_SCHEMA_VERSION
    run: RunSection
    video: VideoSection
    components: list[ComponentRecord]

    def component(self, name: str) -> ComponentRecord:
        return next(c for c in self.components if c.name == name)


def video_status(components: list[ComponentRecord]) -> Literal["success", "error"]:
    """A video succeeds when every required component succeeded or found nothing (empty)."""
    ok = all(c.status in ("success", "empty") for c in components if c.required)
    return "success" if ok else "error"
