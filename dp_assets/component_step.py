"""The per-video loop every component step shares.

A step covers a range of videos (one run = a batch). Each video is computed on its own:
a failure becomes that video's artifact with `status: error` and its `error_code` (SPEC:
failure carried as data), the other videos go on, and dependants see the status.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from dagster import AssetExecutionContext, MetadataValue

from dp_assets.metadata_rounding import rounded
from dp_assets.step_api import (
    Batched,
    ComponentOutput,
    FrameJob,
    PerVideo,
    PreviewSource,
    StepContext,
    Upstream,
    VideoInput,
)
from dp_assets.step_record import StepRecord
from dp_assets.uploads import UPLOAD_INPUT, UploadRecord, load_upload
from dp_core.artifact import Artifact, ArtifactMeta, ArtifactRef, seal
from dp_core.errors import DpError, ErrorCode, error_code_of
from dp_core.retry import call_with_retries
from dp_core.storage_keys import artifact_key
from dp_core.version import dataprocessor_version
from dp_features.previews import image_mime
from dp_resources.models.batching import CrossVideoBatcher

EVENT_DETAILS_ENV = "DP_EVENT_DETAILS"


def run_step(
    context: AssetExecutionContext,
    step: StepContext,
    body: PerVideo | Batched,
    upstream: Upstream,
    optional: Upstream,
) -> dict[str, Artifact]:
    """Every video of the step through `body`; returns {partition_key: artifact}."""
    videos = {
        key: VideoInput(
            key,
            load_upload(context.instance, key),
            {name: by_key[key] for name, by_key in upstream.items()},
            step.storage,
            {name: by_key[key] for name, by_key in optional.items()},
        )
        for key in sorted(context.partition_keys)
    }
    if isinstance(body, Batched):
        return _run_batched(context, step, body, videos)

    def compute(video: VideoInput) -> tuple[ComponentOutput, Exception | None, float]:
        started = time.perf_counter()
        output, error, attempts = _compute_with_retries(context, step, body, video)
        output.meta["attempts"] = attempts
        return output, error, round((time.perf_counter() - started) * 1000.0, 1)

    threads = min(len(videos), step.profile.batching.video_threads)
    if step.spec.parallel_videos and threads > 1:
        # artifacts are still finished (sealed, reported) one by one, in key order
        with ThreadPoolExecutor(threads, thread_name_prefix=step.name) as pool:
            computed = dict(zip(videos, pool.map(compute, videos.values()), strict=True))
    else:
        computed = {key: compute(video) for key, video in videos.items()}
    return {key: _finish(context, step, videos[key], *computed[key]) for key in videos}


def _compute_with_retries(
    context: AssetExecutionContext, step: StepContext, compute: PerVideo, video: VideoInput
) -> tuple[ComponentOutput, Exception | None, int]:
    """Transient errors (model unavailable/timeout, storage) are retried for this video
    alone, with exponential backoff; permanent ones fail at once."""
    settings = step.settings

    def on_retry(exc: BaseException, attempt: int, delay: float) -> None:
        context.log.warning(
            f"{step.name} {video.partition_key}: [{error_code_of(exc).value}] {exc} — "
            f"retry {attempt}/{settings.retries} in {delay:.1f} s"
        )

    def attempt_once(_: int) -> ComponentOutput:
        _check_upstream(video.upstream)
        return _checked(step, compute(video))

    try:
        output, attempts = call_with_retries(
            attempt_once,
            retries=settings.retries,
            backoff_s=settings.retry_backoff_s,
            on_retry=on_retry,
        )
        return output, None, attempts
    except Exception as exc:  # one video's failure must not stop the others
        if error_code_of(exc) is ErrorCode.INTERNAL:
            context.log.exception(f"{step.name} failed on {video.partition_key}: a bug")
        return ComponentOutput(status="empty"), exc, getattr(exc, "attempts", 1)


def _run_batched(
    context: AssetExecutionContext,
    step: StepContext,
    body: Batched,
    videos: Mapping[str, VideoInput],
) -> dict[str, Artifact]:
    """`prepare` gives each video's frames (or its final output), `infer` runs in batches
    of the profile's `batch_size` across the videos of the step, and each video's `finish`
    turns its outputs into its artifact."""
    settings = step.settings
    outputs, errors, jobs, seconds = {}, {}, {}, {}
    for key, video in videos.items():
        started = time.perf_counter()
        try:
            _check_upstream(video.upstream)
            prepared = body.prepare(video)
        except Exception as exc:
            outputs[key], errors[key] = ComponentOutput(status="empty"), exc
        else:
            if isinstance(prepared, FrameJob):
                jobs[key] = prepared
            else:
                outputs[key] = prepared
        seconds[key] = time.perf_counter() - started
    batcher = CrossVideoBatcher(
        body.infer,
        settings.batch_size,
        retries=settings.retries,
        backoff_s=settings.retry_backoff_s,
    )
    for key, result in batcher.run({k: job.chunks for k, job in jobs.items()}).items():
        started = time.perf_counter()
        try:
            if result.error is not None:
                raise result.error
            outputs[key] = _checked(step, jobs[key].finish(result))
        except Exception as exc:
            outputs[key], errors[key] = ComponentOutput(status="empty"), exc
        seconds[key] += time.perf_counter() - started + result.infer_s
    stats = batcher.stats
    context.log.info(
        f"{step.name}: {stats.frames} frames of {len(jobs)} videos in {stats.calls} model "
        f"calls (mean batch {stats.mean_batch:.1f} of {settings.batch_size})"
    )
    results = {}
    for key, video in videos.items():
        output, error = outputs[key], errors.get(key)
        if error is not None and error_code_of(error) is ErrorCode.INTERNAL:
            context.log.error(f"{step.name} failed on {key}: a bug: {error!r}")
        output.meta["model_batch"] = {"calls": stats.calls, "mean_batch": stats.mean_batch}
        duration_ms = round(seconds[key] * 1000.0, 1)
        results[key] = _finish(context, step, video, output, error, duration_ms)
    return results


def _checked(step: StepContext, output: ComponentOutput) -> ComponentOutput:
    """An `ok` output holds every headline array its spec guarantees (SPEC: NPZ artifact):
    a missing one is a bug in the component, caught before anything is written."""
    if output.status == "ok":
        missing = [name for name in step.spec.arrays if name not in output.arrays]
        if missing:
            raise DpError(
                ErrorCode.INTERNAL,
                f"{step.name} returned no {', '.join(missing)} (its spec guarantees them)",
            )
    return output


def _check_upstream(upstream: Mapping[str, Artifact]) -> None:
    for name, artifact in upstream.items():
        if artifact.meta.model_extra and artifact.meta.model_extra.get("unreadable"):
            # the input could not be read back as written (io_managers/npz_io_manager.py)
            raise DpError(ErrorCode.INPUT_CORRUPT, artifact.meta.error_message)
        if artifact.meta.status == "error":
            raise DpError(
                ErrorCode.DEPENDENCY_ERROR,
                f"{name} failed ({artifact.meta.error_code.value}): {artifact.meta.error_message}",
            )


def _finish(
    context: AssetExecutionContext,
    step: StepContext,
    video: VideoInput,
    output: ComponentOutput,
    error: Exception | None,
    duration_ms: float,
) -> Artifact:
    """The video's artifact (error or result), sealed with its digest and the digests of
    the inputs it was computed from, and reported as partition metadata."""
    upload = video.upload
    inputs = {
        name: artifact.ref
        for name, artifact in {**video.upstream, **video.optional}.items()
        if artifact.ref is not None
    }
    if not step.spec.inputs:  # the segmenter's input is the uploaded file itself
        inputs[UPLOAD_INPUT] = ArtifactRef(
            key=f"upload/{upload.partition_key}", sha256=upload.source_digest, run_id=""
        )
    meta = ArtifactMeta(
        component=step.name,
        component_version=step.spec.version,
        dataprocessor_version=dataprocessor_version(),
        run_id=step.run_id,
        platform=upload.platform,
        video_id=upload.video_id,
        status="error" if error else output.status,
        error_code=error_code_of(error) if error else None,
        error_message=_user_message(error, upload) if error else None,
        config_hash=step.profile.config_hash,
        models_used=output.models_used,
        warnings=output.warnings,
        duration_ms=duration_ms,
        device_used=output.device,
        inputs=inputs,
        fingerprint=step.fingerprint,
        **output.meta,
    )
    artifact = Artifact(meta=meta, arrays={} if error else output.arrays)
    seal(artifact, artifact_key(upload.partition_key, step.run_id, step.name))
    if event_details():  # drawn only where it is shown (dp report draws its own)
        output.display.update(_preview(context, step, video, artifact))
    _report(context, step, upload.partition_key, artifact, output)
    return artifact


def _preview(
    context: AssetExecutionContext, step: StepContext, video: VideoInput, artifact: Artifact
) -> dict:
    """The spec's picture of an `ok` result as markdown with a data-URI image (the UI shows
    it on the partition's page), and how long it took; a picture that fails is a warning,
    never the step's failure."""
    if step.spec.preview is None or artifact.meta.status != "ok":
        return {}
    started = time.perf_counter()
    try:
        source = PreviewSource(artifact.arrays, video.upstream, video.storage)
        data = step.spec.preview(source)
        mime = image_mime(data) if data else ""
    except Exception as exc:
        context.log.warning(f"{step.name} {video.partition_key}: no preview: {exc!r}")
        return {}
    if not data:
        return {}
    encoded = base64.b64encode(data).decode()
    return {
        "preview": MetadataValue.md(f"![{step.name} preview](data:{mime};base64,{encoded})"),
        "preview_ms": round((time.perf_counter() - started) * 1000.0, 1),
    }


def _user_message(error: Exception, upload: UploadRecord) -> str:
    """The error as a user reads it, without the machine's absolute paths (manifests are
    shared across machines and must hold none)."""
    message = error.message if isinstance(error, DpError) else repr(error)
    source = upload.source_uri.removeprefix("file://")
    return message.replace(source, upload.source_name)


def event_details() -> bool:
    """`DP_EVENT_DETAILS=1`: previews and per-component summaries go into the
    materialization events too (the UI shows them; ~8 KB more per video and component in
    the event log). Off by default: the artifact keeps them and `dp report` draws them."""
    return os.environ.get(EVENT_DETAILS_ENV, "") == "1"


def _report(
    context: AssetExecutionContext,
    step: StepContext,
    key: str,
    artifact: Artifact,
    output: ComponentOutput,
) -> None:
    """The video's `StepRecord` as its partition's metadata, with the spec's summaries and
    picture when `event_details()` asks for them."""
    metadata = StepRecord.of_artifact(artifact, step.fingerprint).to_metadata()
    if event_details():
        metadata.update(output.display)
    # floats as people read them in the UI (4 significant digits); the artifact keeps all
    context.add_asset_metadata(rounded(metadata), partition_key=key)
    # ok/empty is in the materialization already: a log line per video would be one more
    # stored event each (~10 ms on SQLite; 32 videos x 15 components = 5 s per run)
    meta = artifact.meta
    if meta.status == "error":
        context.log.warning(
            f"{step.name} {key}: error [{meta.error_code.value}] {meta.error_message}"
        )
