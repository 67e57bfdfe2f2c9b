"""Which components of a video are up to date, so a re-run computes only the rest.

A component's *fingerprint* is a hash of everything that decides its output besides its
inputs: its spec version, its profile entry (params, frame budget, model choice, device,
runtime; not `required` or retry settings), the profile's analysis settings for the
segmenter, and the models it runs (name, version, weights digest, precision, engine). It is
the asset's Dagster `code_version`, and every artifact records it.

An artifact is reused when it is the partition's latest materialization, its status is
`ok` or `empty`, its fingerprint is the current one, and every input it was computed from
(by sha256) is the artifact reused for that input now; for the segmenter, the input is the
source file itself (path, size and mtime or ETag: a replaced file is segmented again). Anything else is recomputed, and so
is everything downstream of it: a crash resumes where it stopped, a model or params change
recomputes exactly that component and its dependants, an unchanged re-run computes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from dp_assets.uploads import UPLOAD_INPUT, load_upload
from dp_core.component_spec import ComponentSpec
from dp_core.hashing import sha256_json
from dp_core.profile import Profile

# Profile-entry fields that change how a step runs but not what it computes.
_NOT_OUTPUT_SETTINGS = {"required", "retries", "retry_backoff_s", "batch_size"}


def component_fingerprint(
    spec: ComponentSpec, profile: Profile, model_entry: Mapping | None
) -> str:
    settings = profile.components[spec.name]
    payload: dict = {
        "component": spec.name,
        "version": spec.version,
        "settings": settings.model_dump(mode="json", exclude=_NOT_OUTPUT_SETTINGS),
        "models": [
            [m.get(f) for f in ("name", "version", "weights_digest", "precision", "engine")]
            for m in (model_entry or {}).get("models_used", [])
        ],
    }
    if not spec.inputs:  # the segmenter: every stream depends on the analysis settings
        payload["profile"] = profile.model_dump(
            mode="json", include={"analysis", "dense", "audio", "limits"}
        )
    return sha256_json(payload)[:16]


@dataclass(frozen=True)
class Materialized:
    """A partition's latest materialization of one component, from its metadata."""

    run_id: str
    artifact_key: str
    sha256: str
    status: str
    fingerprint: str
    input_sha256: dict[str, str]
    metadata: dict

    @classmethod
    def latest(cls, instance: DagsterInstance, component: str, key: str) -> Materialized | None:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(component), asset_partitions=[key]), limit=1
        ).records
        if not records:
            return None
        metadata = {k: v.value for k, v in records[0].asset_materialization.metadata.items()}
        inputs = metadata.get("input_sha256") or {}
        return cls(
            run_id=records[0].run_id,
            artifact_key=str(metadata.get("artifact_key", "")),
            sha256=str(metadata.get("sha256", "")),
            status=str(metadata.get("status", "error")),
            fingerprint=str(metadata.get("fingerprint", "")),
            input_sha256=json.loads(inputs) if isinstance(inputs, str) else dict(inputs),
            metadata=metadata,
        )


def reusable(
    instance: DagsterInstance,
    key: str,
    profile: Profile,
    specs: Mapping[str, ComponentSpec],
    fingerprints: Mapping[str, str],
) -> dict[str, Materialized]:
    """component -> the artifact of video `key` that is still up to date (see above)."""
    kept: dict[str, Materialized] = {}
    for name in profile.component_order():
        latest = Materialized.latest(instance, name, key)
        if latest is None or latest.status not in ("ok", "empty") or not latest.sha256:
            continue
        if latest.fingerprint != fingerprints[name]:
            continue
        spec = specs[name]
        if not spec.inputs:  # the segmenter: made from this very file?
            if latest.input_sha256.get(UPLOAD_INPUT) == load_upload(instance, key).source_digest:
                kept[name] = latest
            continue
        upstream = [*spec.inputs, *(n for n in spec.optional_inputs if n in profile.components)]
        if all(n in kept and latest.input_sha256.get(n) == kept[n].sha256 for n in upstream):
            kept[name] = latest
    return kept
