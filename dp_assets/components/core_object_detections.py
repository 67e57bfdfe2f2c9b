"""`core_object_detections`: COCO objects per analysis frame (NanoDet), batched."""

from __future__ import annotations

from pydantic import Field

from dp_assets.components._frame_models import batched_frame_model
from dp_assets.components._shared import result_fields
from dp_assets.previews import detections_preview
from dp_assets.step_api import Batched, LoadOnce, StepContext
from dp_core.component_spec import ComponentSpec, Params
from dp_features.visual.object_detection import (
    OBJECT_DETECTIONS_FEATURES,
    Letterbox,
    aggregate_detections,
    letterbox_frames,
    to_frame,
)
from dp_resources.models.batching import VideoOutputs
from dp_resources.models.families.nanodet import load_object_detector


class DetectionParams(Params):
    score_threshold: float = Field(0.35, gt=0, lt=1)
    iou_threshold: float = Field(0.5, gt=0, lt=1, description="NMS overlap threshold")


def detect_step(step: StepContext) -> Batched:
    params: DetectionParams = step.params
    detector = LoadOnce(
        lambda: load_object_detector(
            batch_size=step.settings.batch_size,
            score_threshold=params.score_threshold,
            iou_threshold=params.iou_threshold,
            **step.model_options(),
        )
    )

    def summarise(model, result: VideoOutputs, letterboxes: list[Letterbox]) -> dict:
        # every slice of a video has its frame size: the first letterbox maps them all
        per_frame = [to_frame(d, letterboxes[0]) for d in result.outputs]
        return result_fields(
            aggregate_detections(result.frame_times_s, per_frame),
            lambda arrays: {
                "detections": int(arrays["detection_count"]),
                "person_frame_ratio": float(arrays["person_frame_ratio"]),
            },
        )

    return batched_frame_model(
        step,
        detector,
        letterbox_frames,
        lambda model, pixels: model.detect_in_input_space(pixels),
        summarise,
    )


SPEC = ComponentSpec(
    name="core_object_detections",
    group="visual",
    description="COCO objects per analysis frame (NanoDet converted from its npm TFJS "
    "release): boxes, classes, scores and per-class counts per frame.",
    step=detect_step,
    inputs=("segmenter",),
    queue="gpu",
    devices=frozenset({"cpu", "cuda"}),
    runtimes=frozenset({"cpu", "onnxruntime", "triton"}),
    streams=("analysis",),
    params=DetectionParams,
    arrays=("frame_times_s", "boxes", "box_frame", "class_names", "scores"),
    model_family="nanodet",
    features=OBJECT_DETECTIONS_FEATURES,
    preview=detections_preview,
)
