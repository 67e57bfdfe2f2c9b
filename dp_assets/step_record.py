"""What a component step reports for one video: one typed record, written and read here only.

The step writes it as the partition's materialization metadata (`to_metadata`); the
manifest writer, the reuse planner, the failure marks and the progress printer read it
back (`from_metadata`). Only what the UI shows (status, error code and message, artifact
key, digest: entries of their own) and what reuse and the manifest need (fingerprint,
input digests, duration, device, model signature, warnings: one `lineage` JSON entry) goes
into the event; empty fields are left out. Bulky
details (previews, per-component summaries) stay in the artifact (`dp report` draws them)
unless `DP_EVENT_DETAILS=1` asks for them in the UI (see docs/PRODUCTION.md).

`from_metadata` reads events of every version: older ones carry every key (empty strings
included) and the input digests as a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import MetadataValue

from dp_core.artifact import Artifact
from dp_core.errors import ErrorCode
from dp_core.manifest import ARTIFACT_TO_COMPONENT_STATUS, ComponentRecord

# A copy that the event-log retention reported after deleting the run that made it
# (dp_assets/retention.py) names that run and when it materialized.
MADE_BY_RUN = "made_by_run"
LINEAGE = "lineage"
MADE_AT = "made_at"


@dataclass(frozen=True)
class StepRecord:
    """One video's result of one component step.

    `status`: ok | empty | error (the artifact's). `error_code`: an `ErrorCode` value or ''.
    `duration_ms`: milliseconds of compute for this video. `input_sha256`: input name ->
    sha256 of the artifact (or source file) it was computed from."""

    status: str
    artifact_key: str = ""
    sha256: str = ""
    error_code: str = ""
    error: str = ""
    fingerprint: str = ""
    input_sha256: dict[str, str] = field(default_factory=dict)
    duration_ms: float | None = None
    device_used: str | None = None
    model_signature: str = ""
    warnings: tuple[str, ...] = ()
    made_by_run: str = ""  # only on a retained copy: the run that made the artifact
    made_at: float | None = None  # only on a retained copy: that run's materialization time

    @classmethod
    def of_artifact(cls, artifact: Artifact, fingerprint: str) -> StepRecord:
        """The record of a sealed artifact (its ref is set)."""
        meta = artifact.meta
        return cls(
            status=meta.status,
            artifact_key=artifact.ref.key,
            sha256=artifact.ref.sha256,
            error_code=meta.error_code.value if meta.error_code else "",
            error=meta.error_message or "",
            fingerprint=fingerprint,
            input_sha256={name: ref.sha256 for name, ref in meta.inputs.items()},
            duration_ms=meta.duration_ms,
            device_used=meta.device_used,
            model_signature=meta.model_signature,
            warnings=tuple(meta.warnings),
        )

    @property
    def reusable_status(self) -> bool:
        """ok or empty with a digest: the only records reuse may take."""
        return self.status in ("ok", "empty") and bool(self.sha256)

    def to_metadata(self) -> dict[str, Any]:
        """Dagster metadata: what the UI shows as its own entries (status, key, digest, the
        error if any), and what reuse and the manifest read in one `lineage` JSON entry
        (each entry costs ~130 bytes of envelope in the event log, twice on SQLite)."""
        metadata: dict[str, Any] = {
            "status": self.status,
            "artifact_key": self.artifact_key,
            "sha256": self.sha256,
        }
        if self.error_code:
            metadata["error_code"] = self.error_code
        if self.error:
            metadata["error"] = self.error
        lineage = {
            "fingerprint": self.fingerprint,
            "input_sha256": dict(self.input_sha256),
            "duration_ms": self.duration_ms,
            "device_used": self.device_used,
            "model_signature": self.model_signature,
            "warnings": list(self.warnings),
            MADE_BY_RUN: self.made_by_run,
            MADE_AT: self.made_at,
        }
        lineage = {
            name: value for name, value in lineage.items() if value not in (None, "", {}, [])
        }
        if lineage:
            metadata[LINEAGE] = MetadataValue.json(lineage)
        return metadata

    def check_metadata(self) -> dict[str, str]:
        """What a per-video check evaluation shows: the status, and the error if any."""
        metadata = {"status": self.status}
        if self.error_code:
            metadata["error_code"] = self.error_code
        if self.error:
            metadata["error"] = self.error
        return metadata

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> StepRecord:
        """The record in a materialization's metadata (Dagster metadata values or plain
        values); a missing status reads as `error` (never reused)."""
        values = {name: _plain(value) for name, value in metadata.items()}
        # older events carry each field as its own entry
        values = {**(values.pop(LINEAGE, None) or {}), **values}
        inputs = values.get("input_sha256") or {}
        if isinstance(inputs, str):  # written as a JSON string by older steps
            inputs = json.loads(inputs)
        duration = values.get("duration_ms")
        made_at = values.get(MADE_AT)
        return cls(
            status=str(values.get("status") or "error"),
            artifact_key=str(values.get("artifact_key") or ""),
            sha256=str(values.get("sha256") or ""),
            error_code=str(values.get("error_code") or ""),
            error=str(values.get("error") or ""),
            fingerprint=str(values.get("fingerprint") or ""),
            input_sha256={str(k): str(v) for k, v in dict(inputs).items()},
            duration_ms=float(duration) if duration is not None else None,
            device_used=values.get("device_used") or None,
            model_signature=str(values.get("model_signature") or ""),
            warnings=tuple(str(w) for w in values.get("warnings") or ()),
            made_by_run=str(values.get(MADE_BY_RUN) or ""),
            made_at=float(made_at) if made_at is not None else None,
        )

    def component_record(
        self, name: str, required: bool, reused_from_run: str | None = None
    ) -> ComponentRecord:
        """This record as the manifest lists it."""
        return ComponentRecord(
            name=name,
            required=required,
            status=ARTIFACT_TO_COMPONENT_STATUS.get(self.status, "error"),
            error_code=ErrorCode(self.error_code) if self.error_code else None,
            error_message=self.error or None,
            warnings=list(self.warnings),
            device_used=self.device_used,
            duration_ms=self.duration_ms,
            artifact_key=self.artifact_key or None,
            sha256=self.sha256 or None,
            model_signature=self.model_signature,
            reused_from_run=reused_from_run,
        )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, MetadataValue) else value
