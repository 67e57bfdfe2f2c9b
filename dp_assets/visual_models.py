"""Visual components that run a model over the segmenter's analysis frames: faces, objects,
CLIP embeddings, depth. Thin wiring: frames in, dp_features aggregation out."""

from dagster import AssetExecutionContext

from dp_assets.component_asset import component_asset
from dp_assets.component_step import ComponentOutput, LoadOnce, VideoInput, run_component
from dp_assets.visual import NO_VIDEO, analysis_meta
from dp_core.artifact import Artifact
from dp_features.visual.faces import face_landmarks
from dp_resources.face_models import load_face_landmarker
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage import StorageResource


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
        model = landmarker.get()
        per_frame, times = [], []
        for chunk in frames.budget_frames("core_face_landmarks"):
            per_frame.extend(model.detect(chunk.frames))
            times.extend(chunk.times_s.tolist())
        result = face_landmarks(times, per_frame)
        arrays = result.as_arrays()
        return ComponentOutput(
            status=result.status,
            arrays=arrays,
            models_used=model.models_used,
            warnings=[result.reason] if result.reason else [],
            meta=analysis_meta(video.upstream["segmenter"]),
            display={
                "frames_with_face_ratio": float(arrays["frames_with_face_ratio"]),
                "max_face_count": int(arrays["max_face_count"]),
            },
        )

    return run_component(
        context,
        "core_face_landmarks",
        active_profile,
        {"segmenter": segmenter},
        detect,
        storage=store,
    )
