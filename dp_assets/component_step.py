"""The per-video loop every component step shares.

A step covers a range of videos (one run = a batch). Each video is computed on its own:
a failure becomes that video's artifact with `status: error` and its `error_code` (SPEC:
failure carried as data), the other videos go on, and dependants see the status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from dagster import AssetExecutionContext, MetadataValue

from dp_assets.uploads import UploadRecord, load_upload
from dp_core.artifact import Artifact, ArtifactMeta, ArtifactStatus, ModelUsed
from dp_core.errors import DpError, ErrorCode, error_code_of
from dp_core.profile import Profile
from dp_core.storage_keys import artifact_key
from dp_core.version import dataprocessor_version
from dp_resources.media.segmented_video import SegmentedVideo
from dp_resources.models.batching import (
    CrossVideoBatcher,
    FrameChunk,
    InferBatch,
    VideoOutputs,
)
from dp_resources.storage.backends import Storage


@dataclass
class VideoInput:
    partition_key: str
    upload: UploadRecord
    upstream: dict[str, Artifact]  # component name -> this video's artifact
    storage: Storage | None = None

    @cached_property
    def frames(self) -> SegmentedVideo:
        """The segmenter's frames_dir of this video (components that read the segmenter)."""
        return SegmentedVideo.from_artifact(self.storage, self.upstream["segmenter"])


@dataclass
class ComponentOutput:
    status: ArtifactStatus  # "ok" or "empty"
    arrays: dict = field(default_factory=dict)
    models_used: list[ModelUsed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # extra meta stored in the artifact
    display: dict = field(default_factory=dict)  # Dagster UI metadata only
    device: str = "cpu"


class LoadOnce:
    """A model (or any resource) loaded on first use and shared by the step's videos; a
    load that failed fails every video with the same error (e.g. MODEL_NOT_FOUND)."""

    def __init__(self, load: Callable[[], object]):
        self._load, self._value, self._error = load, None, None

    def get(self):
        if self._value is None and self._error is None:
            try:
                self._value = self._load()
            except Exception as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._value


def run_component(
    context: AssetExecutionContext,
    component: str,
    profile: Profile,
    upstream: Mapping[str, Mapping[str, Artifact]],
    compute: Callable[[VideoInput], ComponentOutput],
    storage: Storage | None = None,
) -> dict[str, Artifact]:
    """Run `compute` for every video of the step; return {partition_key: artifact}.
    With `storage`, each video's input gives its segmenter frames as `video.frames`."""
    results: dict[str, Artifact] = {}
    for key in sorted(context.partition_keys):
        started = time.perf_counter()
        upload = load_upload(context.instance, key)
        video_upstream = {name: by_key[key] for name, by_key in upstream.items()}
        video = VideoInput(key, upload, video_upstream, storage)
        output, error, attempts = _compute_with_retries(context, component, profile, compute, video)
        duration_ms = round((time.perf_counter() - started) * 1000.0, 1)
        output.meta["attempts"] = attempts
        artifact = _artifact(context, component, profile, upload, output, error, duration_ms)
        results[key] = artifact
        _report(context, component, key, artifact, output)
    return results


@dataclass
class FrameJob:
    """A video's share of a batched model step: the frames it sends through the model, and
    how its outputs become the artifact."""

    chunks: Iterator[FrameChunk]
    finish: Callable[[VideoOutputs], ComponentOutput]


def run_batched_component(
    context: AssetExecutionContext,
    component: str,
    profile: Profile,
    upstream: Mapping[str, Mapping[str, Artifact]],
    prepare: Callable[[VideoInput], ComponentOutput | FrameJob],
    infer: InferBatch,
    storage: Storage | None = None,
) -> dict[str, Artifact]:
    """Like `run_component`, for a model over frames: `prepare` gives each video's frames
    (or its final output, e.g. `empty` without video), `infer` runs in batches of the
    profile's `batch_size` across the videos of the step (dp_resources/models/batching),
    and each video's `finish` turns its outputs into its artifact."""
    spec = profile.components[component]
    videos, outputs, errors, jobs, seconds = {}, {}, {}, {}, {}
    for key in sorted(context.partition_keys):
        started = time.perf_counter()
        video = VideoInput(key, load_upload(context.instance, key), {}, storage)
        video.upstream.update({name: by_key[key] for name, by_key in upstream.items()})
        videos[key] = video
        try:
            _check_upstream(video.upstream)
            prepared = prepare(video)
        except Exception as exc:
            outputs[key], errors[key] = ComponentOutput(status="error"), exc
        else:
            if isinstance(prepared, FrameJob):
                jobs[key] = prepared
            else:
                outputs[key] = prepared
        seconds[key] = time.perf_counter() - started
    batcher = CrossVideoBatcher(
        infer, spec.batch_size, retries=spec.retries, backoff_s=spec.retry_backoff_s
    )
    for key, result in batcher.run({k: job.chunks for k, job in jobs.items()}).items():
        started = time.perf_counter()
        try:
            if result.error is not None:
                raise result.error
            outputs[key] = jobs[key].finish(result)
        except Exception as exc:
            outputs[key], errors[key] = ComponentOutput(status="error"), exc
        seconds[key] += time.perf_counter() - started + result.infer_s
    stats = batcher.stats
    context.log.info(
        f"{component}: {stats.frames} frames of {len(jobs)} videos in {stats.calls} model "
        f"calls (mean batch {stats.mean_batch:.1f} of {spec.batch_size})"
    )
    results: dict[str, Artifact] = {}
    for key in sorted(videos):
        output, error = outputs[key], errors.get(key)
        if error is not None and error_code_of(error) is ErrorCode.INTERNAL:
            context.log.error(f"{component} failed on {key}: a bug: {error!r}")
        output.meta["model_batch"] = {"calls": stats.calls, "mean_batch": stats.mean_batch}
        duration_ms = round(seconds[key] * 1000.0, 1)
        upload = videos[key].upload
        results[key] = _artifact(context, component, profile, upload, output, error, duration_ms)
        _report(context, component, key, results[key], output)
    return results


def _compute_with_retries(
    context: AssetExecutionContext,
    component: str,
    profile: Profile,
    compute: Callable[[VideoInput], ComponentOutput],
    video: VideoInput,
) -> tuple[ComponentOutput, Exception | None, int]:
    """Transient errors (model unavailable/timeout, storage) are retried for this video
    alone, with exponential backoff; permanent ones fail at once."""
    spec = profile.components[component]
    attempt = 1
    while True:
        try:
            _check_upstream(video.upstream)
            return compute(video), None, attempt
        except Exception as exc:  # one video's failure must not stop the others
            code = error_code_of(exc)
            if code.transient and attempt <= spec.retries:
                delay = spec.retry_backoff_s * 2 ** (attempt - 1)
                context.log.warning(
                    f"{component} {video.partition_key}: {exc} — retry {attempt}/{spec.retries} "
                    f"in {delay:.1f} s"
                )
                time.sleep(delay)
                attempt += 1
                continue
            if code is ErrorCode.INTERNAL:
                context.log.exception(f"{component} failed on {video.partition_key}: a bug")
            return ComponentOutput(status="error"), exc, attempt


def _check_upstream(upstream: Mapping[str, Artifact]) -> None:
    for name, artifact in upstream.items():
        if artifact.meta.status == "error":
            raise DpError(
                ErrorCode.DEPENDENCY_ERROR,
                f"{name} failed ({artifact.meta.error_code.value}): {artifact.meta.error_message}",
            )


def _artifact(
    context: AssetExecutionContext,
    component: str,
    profile: Profile,
    upload: UploadRecord,
    output: ComponentOutput,
    error: Exception | None,
    duration_ms: float,
) -> Artifact:
    meta = ArtifactMeta(
        component=component,
        component_version=profile.components[component].version,
        dataprocessor_version=dataprocessor_version(),
        run_id=context.run.run_id,
        platform=upload.platform,
        video_id=upload.video_id,
        status="error" if error else output.status,
        error_code=error_code_of(error) if error else None,
        error_message=_user_message(error, upload) if error else None,
        config_hash=profile.config_hash,
        models_used=output.models_used,
        warnings=output.warnings,
        duration_ms=duration_ms,
        device_used=output.device,
        **output.meta,
    )
    return Artifact(meta=meta, arrays={} if error else output.arrays)


def _user_message(error: Exception, upload: UploadRecord) -> str:
    """The error as a user reads it, without the machine's absolute paths (manifests are
    shared across machines and must hold none)."""
    message = error.message if isinstance(error, DpError) else repr(error)
    source = upload.source_uri.removeprefix("file://")
    return message.replace(source, upload.source_name)


def _report(
    context: AssetExecutionContext,
    component: str,
    key: str,
    artifact: Artifact,
    output: ComponentOutput,
) -> None:
    meta = artifact.meta
    metadata = {
        "status": meta.status,
        "error_code": meta.error_code.value if meta.error_code else "",
        "artifact_key": artifact_key(key, context.run.run_id, component),
        "duration_ms": meta.duration_ms,
        "device_used": meta.device_used,
        "model_signature": meta.model_signature,
        "warnings": MetadataValue.json(meta.warnings),
    }
    if meta.error_message:
        metadata["error"] = meta.error_message
    context.add_asset_metadata({**metadata, **output.display}, partition_key=key)
    line = f"{component} {key}: {meta.status}"
    if meta.status == "error":
        context.log.warning(f"{line} [{meta.error_code.value}] {meta.error_message}")
    else:
        context.log.info(line)
