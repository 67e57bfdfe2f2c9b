"""Visual components that run a model over the segmenter's analysis frames: faces, objects,
CLIP embeddings, depth. Thin wiring: frames in, dp_features aggregation out."""

from collections.abc import Callable, Iterator, Sequence

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
from dp_resources.models.batching import VideoOutputs
from dp_resources.models.families.clip import load_clip
from dp_resources.models.families.faces import load_face_landmarker
from dp_resources.models.families.midas import load_midas
from dp_resources.models.families.nanodet import load_object_detector
from dp_resources.models.providers import runtime_options
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage.backends import Storage
from dp_resources.storage.resource import StorageResource


def budget_slices(
    video: VideoInput, component: str, spec: ComponentSpec
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The component's budgeted frames in slices of its batch size: preprocessed model
    inputs (float32, several times the frames' bytes) then exist one batch at a time."""
    for chunk in video.frames.budget_frames(component):
        for start in range(0, len(chunk.frames), spec.batch_size):
            end = start + spec.batch_size
            yield chunk.frames[start:end], chunk.times_s[start:end]


def _batched_model_step(
    context: AssetExecutionContext,
    component: str,
    profile: Profile,
    segmenter: dict[str, Artifact],
    store: Storage,
    model: LoadOnce,
    preprocess: Callable[[np.ndarray], tuple[np.ndarray, object]],
    infer: Callable[[object, np.ndarray], Sequence],
    summarise: Callable[[object, VideoOutputs, list], dict],
) -> dict[str, Artifact]:
    """A model over budgeted frames, batched across the step's videos: `preprocess(frames)`
    gives model inputs of one shape (+ what the video needs to read its outputs back),
    `infer(model, inputs)` runs a batch, `summarise(model, outputs, geometry)` gives the
    video's ComponentOutput fields (models_used and device default to the model's)."""
    spec = profile.components[component]

    def prepare(video: VideoInput) -> ComponentOutput | FrameJob:
        if not video.frames.metadata["has_video"]:
            return NO_VIDEO
        geometry: list = []

        def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for frames, times_s in budget_slices(video, component, spec):
                inputs, shape = preprocess(frames)
                geometry.append(shape)
                yield inputs, times_s

        def finish(result: VideoOutputs) -> ComponentOutput:
            loaded = model.get()
            fields = summarise(loaded, result, geometry)
            fields.setdefault("models_used", loaded.models_used)
            return ComponentOutput(
                device=fields["models_used"][0].device,
                meta=analysis_meta(video.upstream["segmenter"]),
                **fields,
            )

        return FrameJob(chunks(), finish)

    upstream = {"segmenter": segmenter}
    return run_batched_component(
        context,
        component,
        profile,
        upstream,
        prepare,
        lambda inputs: infer(model.get(), inputs),
        storage=store,
    )


def _fields_of(result, display: Callable[[dict], dict]) -> dict:
    """ComponentOutput fields from a dp_features result (`status`, `reason`, `as_arrays`)."""
    arrays = result.as_arrays()
    return {
        "status": result.status,
        "arrays": arrays,
        "warnings": [result.reason] if getattr(result, "reason", "") else [],
        "display": display(arrays),
    }


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

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return NO_VIDEO
        model = landmarker.get()  # MediaPipe runs in-process, one frame at a time
        per_frame, times = [], []
        for chunk in frames.budget_frames("core_face_landmarks"):
            per_frame.extend(model.detect(chunk.frames))
            times.extend(chunk.times_s.tolist())
        fields = _fields_of(
            face_landmarks(np.asarray(times, np.float64), per_frame),
            lambda arrays: {
                "frames_with_face_ratio": float(arrays["frames_with_face_ratio"]),
                "max_face_count": int(arrays["max_face_count"]),
            },
        )
        return ComponentOutput(
            models_used=model.models_used,
            device=model.models_used[0].device,
            meta=analysis_meta(video.upstream["segmenter"]),
            **fields,
        )

    upstream = {"segmenter": segmenter}
    return run_component(
        context, "core_face_landmarks", active_profile, upstream, detect, storage=store
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

    def summarise(model, result: VideoOutputs, letterboxes: list[Letterbox]) -> dict:
        # every slice of a video has its frame size: the first letterbox maps them all
        per_frame = [to_frame(d, letterboxes[0]) for d in result.outputs]
        return _fields_of(
            aggregate_detections(result.frame_times_s, per_frame),
            lambda arrays: {
                "detections": int(arrays["detection_count"]),
                "person_frame_ratio": float(arrays["person_frame_ratio"]),
            },
        )

    return _batched_model_step(
        context,
        "core_object_detections",
        active_profile,
        segmenter,
        store,
        detector,
        letterbox_frames,
        lambda model, pixels: model.detect_in_input_space(pixels),
        summarise,
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

    def summarise(model, result: VideoOutputs, _) -> dict:
        embeddings = np.asarray(result.outputs, np.float32).reshape(-1, model.embedding_dim)
        return {
            "status": "ok" if len(embeddings) else "empty",
            "arrays": {"frame_times_s": result.frame_times_s, "embeddings": embeddings},
            "models_used": [model.models_used[0]],  # the image tower
            "display": {"frames": len(embeddings)},
        }

    return _batched_model_step(
        context,
        "core_clip",
        active_profile,
        segmenter,
        store,
        clip,
        lambda frames: (clip_pixels(frames), None),
        lambda model, pixels: model.embed_pixels(pixels),
        summarise,
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

    return _batched_model_step(
        context,
        "core_depth_midas",
        active_profile,
        segmenter,
        store,
        midas,
        lambda frames: (midas_pixels(frames), None),
        lambda model, pixels: model.depth_of_pixels(pixels),
        lambda model, result, _: _fields_of(
            depth_statistics(np.asarray(result.outputs), result.frame_times_s),
            lambda arrays: {"frames": len(result.outputs)},
        ),
    )
