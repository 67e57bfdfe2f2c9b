"""Visual components that run a model over the segmenter's analysis frames: faces, objects,
CLIP embeddings, depth. Thin wiring: frames in, dp_features aggregation out."""

from collections.abc import Callable, Iterator

import numpy as np
from dagster import AssetExecutionContext

from dp_assets.component_asset import component_asset
from dp_assets.component_step import (
    ComponentOutput,
    FrameJob,
    LoadOnce,
    VideoInput,
    run_batched_component,
    run_component,
)
from dp_assets.visual import NO_VIDEO, analysis_meta
from dp_core.artifact import Artifact
from dp_core.profile import ComponentSpec, Profile
from dp_features.visual.depth_stats import depth_statistics
from dp_features.visual.faces import face_landmarks
from dp_features.visual.model_inputs import clip_pixels, midas_pixels
from dp_features.visual.object_detection import (
    Letterbox,
    aggregate_detections,
    letterbox_frames,
    to_frame,
)
from dp_resources.clip_model import load_clip
from dp_resources.cross_video_batching import VideoOutputs
from dp_resources.face_models import load_face_landmarker
from dp_resources.midas_model import load_midas
from dp_resources.model_providers import runtime_options
from dp_resources.object_detector import load_object_detector
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage import StorageResource
from dp_resources.storage_backends import Storage


def budget_slices(
    video: VideoInput, component: str, spec: ComponentSpec
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The component's budgeted frames in slices of its batch size: preprocessed model
    inputs (float32, several times the frames' bytes) then exist one batch at a time."""
    for chunk in video.frames.budget_frames(component):
        for start in range(0, len(chunk.frames), spec.batch_size):
            end = start + spec.batch_size
            yield chunk.frames[start:end], chunk.times_s[start:end]


def _per_frame_model_step(
    context: AssetExecutionContext,
    component: str,
    profile: Profile,
    segmenter: dict[str, Artifact],
    store: Storage,
    model: LoadOnce,
    aggregate: Callable,
    display: Callable[[dict], dict],
) -> dict[str, Artifact]:
    """A model that sees each budgeted frame on its own (`model.detect(frames)` -> one
    result per frame), its results aggregated per video by `aggregate(times_s, results)`."""

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return NO_VIDEO
        loaded = model.get()
        per_frame, times = [], []
        for chunk in frames.budget_frames(component):
            per_frame.extend(loaded.detect(chunk.frames))
            times.extend(chunk.times_s.tolist())
        result = aggregate(np.asarray(times, np.float64), per_frame)
        arrays = result.as_arrays()
        return ComponentOutput(
            status=result.status,
            arrays=arrays,
            models_used=loaded.models_used,
            device=loaded.models_used[0].device,
            warnings=[result.reason] if getattr(result, "reason", "") else [],
            meta=analysis_meta(video.upstream["segmenter"]),
            display=display(arrays),
        )

    upstream = {"segmenter": segmenter}
    return run_component(context, component, profile, upstream, detect, storage=store)


@component_asset(
    "core_face_landmarks",
    "visual",
    "Faces per analysis frame (MediaPipe full-range detector + 478-point mesh): boxes, "
    "scores, landmarks and the share of the frame covered by faces.",
    reads=("segmenter",),
)
def core_face_landmarks(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    spec = active_profile.components["core_face_landmarks"]
    landmarker = LoadOnce(
        lambda: load_face_landmarker(
            device=spec.device,
            min_confidence=float(spec.params.get("min_confidence", 0.6)),
            max_faces=int(spec.params.get("max_faces", 8)),
        )
    )

    return _per_frame_model_step(
        context,
        "core_face_landmarks",
        active_profile,
        segmenter,
        store,
        landmarker,
        face_landmarks,
        lambda arrays: {
            "frames_with_face_ratio": float(arrays["frames_with_face_ratio"]),
            "max_face_count": int(arrays["max_face_count"]),
        },
    )


@component_asset(
    "core_object_detections",
    "visual",
    "COCO objects per analysis frame (NanoDet converted from its npm TFJS release): boxes, "
    "classes, scores and per-class counts per frame.",
    reads=("segmenter",),
)
def core_object_detections(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    spec = active_profile.components["core_object_detections"]
    detector = LoadOnce(
        lambda: load_object_detector(
            batch_size=spec.batch_size,
            score_threshold=float(spec.params.get("score_threshold", 0.35)),
            iou_threshold=float(spec.params.get("iou_threshold", 0.5)),
            **runtime_options(active_profile, "core_object_detections"),
        )
    )

    def prepare(video: VideoInput) -> ComponentOutput | FrameJob:
        if not video.frames.metadata["has_video"]:
            return NO_VIDEO
        letterboxes: list[Letterbox] = []  # this video's frame size in the 416 px input

        def chunks():
            for frames, times_s in budget_slices(video, "core_object_detections", spec):
                pixels, letterbox = letterbox_frames(frames)
                letterboxes.append(letterbox)
                yield pixels, times_s

        def finish(result: VideoOutputs) -> ComponentOutput:
            model = detector.get()
            per_frame = [to_frame(d, letterboxes[0]) for d in result.outputs]
            detections = aggregate_detections(result.frame_times_s, per_frame)
            arrays = detections.as_arrays()
            return ComponentOutput(
                status=detections.status,
                arrays=arrays,
                models_used=model.models_used,
                device=model.models_used[0].device,
                meta=analysis_meta(video.upstream["segmenter"]),
                display={
                    "detections": int(arrays["detection_count"]),
                    "person_frame_ratio": float(arrays["person_frame_ratio"]),
                },
            )

        return FrameJob(chunks(), finish)

    return run_batched_component(
        context,
        "core_object_detections",
        active_profile,
        {"segmenter": segmenter},
        prepare,
        lambda pixels: detector.get().detect_in_input_space(pixels),
        storage=store,
    )


@component_asset(
    "core_clip",
    "visual",
    "CLIP image embeddings (L2-normalised) per sampled analysis frame, batched across the "
    "videos of the step (OpenCLIP ViT-B/32 ONNX; a labelled stand-in in tests).",
    reads=("segmenter",),
)
def core_clip(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    spec = active_profile.components["core_clip"]
    clip = LoadOnce(
        lambda: load_clip(
            batch_size=spec.batch_size, **runtime_options(active_profile, "core_clip")
        )
    )

    def prepare(video: VideoInput) -> ComponentOutput | FrameJob:
        if not video.frames.metadata["has_video"]:
            return NO_VIDEO
        chunks = (
            (clip_pixels(frames), times_s)
            for frames, times_s in budget_slices(video, "core_clip", spec)
        )

        def finish(result: VideoOutputs) -> ComponentOutput:
            model = clip.get()
            embeddings = np.asarray(result.outputs, np.float32).reshape(-1, model.embedding_dim)
            return ComponentOutput(
                status="ok" if len(embeddings) else "empty",
                arrays={"frame_times_s": result.frame_times_s, "embeddings": embeddings},
                models_used=[model.models_used[0]],
                device=model.models_used[0].device,
                meta=analysis_meta(video.upstream["segmenter"]),
                display={"frames": len(embeddings)},
            )

        return FrameJob(chunks, finish)

    return run_batched_component(
        context,
        "core_clip",
        active_profile,
        {"segmenter": segmenter},
        prepare,
        lambda pixels: clip.get().embed_pixels(pixels),
        storage=store,
    )


@component_asset(
    "core_depth_midas",
    "visual",
    "Relative depth per sampled analysis frame (MiDaS v2.1 small ONNX; a labelled stand-in "
    "in tests): 64x64 maps and depth statistics, batched across the videos of the step.",
    reads=("segmenter",),
)
def core_depth_midas(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    spec = active_profile.components["core_depth_midas"]
    midas = LoadOnce(
        lambda: load_midas(
            batch_size=spec.batch_size, **runtime_options(active_profile, "core_depth_midas")
        )
    )

    def prepare(video: VideoInput) -> ComponentOutput | FrameJob:
        if not video.frames.metadata["has_video"]:
            return NO_VIDEO
        chunks = (
            (midas_pixels(frames), times_s)
            for frames, times_s in budget_slices(video, "core_depth_midas", spec)
        )

        def finish(result: VideoOutputs) -> ComponentOutput:
            model = midas.get()
            stats = depth_statistics(np.asarray(result.outputs), result.frame_times_s)
            arrays = stats.as_arrays()
            return ComponentOutput(
                status=stats.status,
                arrays=arrays,
                models_used=model.models_used,
                device=model.models_used[0].device,
                warnings=[stats.reason] if stats.reason else [],
                meta=analysis_meta(video.upstream["segmenter"]),
                display={"frames": len(result.outputs)},
            )

        return FrameJob(chunks, finish)

    return run_batched_component(
        context,
        "core_depth_midas",
        active_profile,
        {"segmenter": segmenter},
        prepare,
        lambda pixels: midas.get().depth_of_pixels(pixels),
        storage=store,
    )
