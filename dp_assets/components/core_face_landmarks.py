"""`core_face_landmarks`: faces per analysis frame (MediaPipe detector + 478-point mesh)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from dp_assets.components._shared import analysis_meta, no_video, result_fields
from dp_assets.previews import detections_preview
from dp_assets.step_api import ComponentOutput, LoadOnce, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec, Params
from dp_features.visual.faces import FACE_LANDMARKS_FEATURES, face_landmarks
from dp_resources.models.families.faces import load_face_landmarker


class FaceParams(Params):
    min_confidence: float = Field(0.6, gt=0, lt=1, description="detector score threshold")
    max_faces: int = Field(8, ge=1, le=64)


def detect_step(step: StepContext) -> PerVideo:
    params: FaceParams = step.params
    landmarker = LoadOnce(
        lambda: load_face_landmarker(
            device=step.settings.device,
            min_confidence=params.min_confidence,
            max_faces=params.max_faces,
        )
    )

    def detect(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return no_video()
        model = landmarker.get()  # MediaPipe runs in-process, one frame at a time
        per_frame, times = [], []
        for chunk in frames.budget_frames(step.name):
            per_frame.extend(model.detect(chunk.frames))
            times.extend(chunk.times_s.tolist())
        fields = result_fields(
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

    return detect


SPEC = ComponentSpec(
    name="core_face_landmarks",
    group="visual",
    description="Faces per analysis frame (MediaPipe full-range detector + 478-point mesh): "
    "boxes, scores, landmarks and the share of the frame covered by faces.",
    step=detect_step,
    inputs=("segmenter",),
    queue="gpu",
    runtimes=frozenset({"cpu", "inprocess"}),
    streams=("analysis",),
    params=FaceParams,
    arrays=("frame_times_s", "face_count", "boxes", "box_frame"),
    model_family="mediapipe",
    features=FACE_LANDMARKS_FEATURES,
    preview=detections_preview,
)
