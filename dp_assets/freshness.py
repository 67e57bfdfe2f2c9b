"""Which components of a video are up to date, so a re-run computes only the rest.

A component's *fingerprint* is a hash of everything that decides its output besides its
inputs: its spec version, its profile entry (params, frame budget, model choice, device,
runtime; not `required` or retry settings), the profile's analysis settings for the
segmenter, and the models it runs (name, version, weights digest, precision, engine). It is
the asset's Dagster `code_version`, and every artifact records it.

An artifact is reused when it is the partition's latest materialization, its status is
`ok` or `empty`, its fingerprint is the current one, every input it was computed from (by
sha256) is the artifact reused for that input now — for the segmenter, the input is the
source file's content digest — and, above all, when the storage this run writes to holds
it with exactly those bytes (`ObjectVerifier`: present, sha256 as recorded; for the
segmenter also every stream file and chunk under its frames_dir). The event log only says
what was made; the storage decides what is there. Anything else is recomputed, with a
warning naming the key, and so is everything downstream of it: a deleted or corrupt artifact
heals on the next plain run, a switched storage is filled again, a crash resumes where it
stopped, a model or params change recomputes exactly that component and its dependants, an
unchanged re-run computes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from dp_assets.step_record import StepRecord
from dp_assets.uploads import UPLOAD_INPUT
from dp_core.artifact import decode_artifact, verify_digest
from dp_core.component_spec import ComponentSpec
from dp_core.errors import DpError
from dp_core.hashing import sha256_json
from dp_core.profile import Profile
from dp_core.storage_keys import video_prefix
from dp_resources.storage.audit import frames_problems
from dp_resources.storage.verified_objects import ObjectVerifier

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
    """A partition's latest materialization of one component: the step's record, the run
    that made the artifact, and when (epoch seconds). A copy the event-log retention kept
    after deleting that run (dp_assets/retention.py) names the original run and time."""

    run_id: str
    record: StepRecord
    timestamp: float

    @property
    def artifact_key(self) -> str:
        return self.record.artifact_key

    @property
    def sha256(self) -> str:
        return self.record.sha256

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def fingerprint(self) -> str:
        return self.record.fingerprint

    @property
    def input_sha256(self) -> dict[str, str]:
        return self.record.input_sha256

    @classmethod
    def latest(cls, instance: DagsterInstance, component: str, key: str) -> Materialized | None:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(component), asset_partitions=[key]), limit=1
        ).records
        if not records:
            return None
        record = StepRecord.from_metadata(records[0].asset_materialization.metadata)
        return cls(
            run_id=record.made_by_run or records[0].run_id,
            record=record,
            timestamp=record.made_at or records[0].timestamp,
        )


def reusable(
    instance: DagsterInstance,
    key: str,
    profile: Profile,
    specs: Mapping[str, ComponentSpec],
    fingerprints: Mapping[str, str],
    verifier: ObjectVerifier,
    source_digest: str,
    warn=lambda message: None,
) -> dict[str, Materialized]:
    """component -> the artifact of video `key` that is still up to date and verified in the
    verifier's storage (see above). `source_digest`: the content digest of the file this run
    planned; `warn` hears every artifact the event log names but the storage does not hold."""
    kept: dict[str, Materialized] = {}
    # two listings (S3: two requests) instead of a HEAD per artifact and stream file
    verifier.forget_listings()
    for root in ("result_store", "frames_dir"):
        verifier.prefetch(video_prefix(root, key))
    for name in profile.component_order():
        latest = Materialized.latest(instance, name, key)
        if latest is None or not latest.record.reusable_status:
            continue
        if latest.fingerprint != fingerprints[name]:
            continue
        spec = specs[name]
        if not spec.inputs:  # the segmenter: made from this very content?
            if latest.input_sha256.get(UPLOAD_INPUT) != source_digest:
                continue
        else:
            upstream = [*spec.inputs, *(n for n in spec.optional_inputs if n in profile.components)]
            if not all(
                n in kept and latest.input_sha256.get(n) == kept[n].sha256 for n in upstream
            ):
                continue
        problem = verifier.problem(latest.artifact_key, latest.sha256)
        if problem is None and not spec.inputs:
            problem = _frames_problem(verifier, latest.record)
        if problem is not None:
            warn(f"{name} of {key} is not reusable, recomputing: {problem}")
            continue
        kept[name] = latest
    return kept


def _frames_problem(verifier: ObjectVerifier, record: StepRecord) -> str | None:
    """The first file the segmenter wrote under its frames_dir (stream chunks included)
    that the storage does not hold as written, if any."""
    key, sha256 = record.artifact_key, record.sha256
    try:  # bytes that match their digest but do not decode: named, recomputed, never fatal
        data = verify_digest(verifier.storage.get_bytes(key), sha256, key)
        extra = decode_artifact(data, source=key).meta.model_extra or {}
    except DpError as exc:
        return exc.message
    if not extra.get("frames_prefix"):
        return f"{key}: the segmenter's artifact names no frames_dir"
    return next(frames_problems(verifier, extra), None)
