"""Text component assets: OCR over the segmenter's analysis frames, and text features
from OCR lines plus the sidecar's title, description and tags."""

import dataclasses

import numpy as np
from dagster import AssetExecutionContext

from dp_assets.component_asset import component_asset
from dp_assets.component_step import ComponentOutput, LoadOnce, VideoInput, run_component
from dp_core.artifact import Artifact
from dp_core.errors import DpError, ErrorCode
from dp_features.text.ocr import FrameOcr, OcrConfig
from dp_features.text.ocr_lines import merge_lines
from dp_features.text.text_features import text_features as describe_text
from dp_resources.models.families.text import load_ocr_reader, load_text_embedder
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage.resource import StorageResource


@component_asset(
    "ocr",
    "text",
    "On-screen text per sampled frame (RapidOCR; Tesseract for Cyrillic where the profile "
    "asks), near-identical frames read once, de-duplicated lines with time spans.",
    reads=("segmenter",),
)
def ocr(
    context: AssetExecutionContext,
    segmenter: dict[str, Artifact],
    storage: StorageResource,
    profile: ProfileResource,
) -> dict[str, Artifact]:
    store = storage.get_storage()
    active_profile = profile.load()
    spec = active_profile.components["ocr"]
    params = dict(spec.params)
    if spec.device != "cpu":  # only RapidOCR runs on CUDA; the others refuse `device`
        params["device"] = spec.device
    engine = str(params.pop("engine", "rapidocr"))
    reader = LoadOnce(lambda: load_ocr_reader(engine, **params))

    def read(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return ComponentOutput(status="empty", warnings=["the video has no video stream"])
        engine_reader = reader.get()
        reading = FrameOcr(engine_reader, OcrConfig())
        for chunk in frames.budget_frames("ocr"):
            reading.add(chunk.frames, chunk.times_s)
        result = reading.result()
        lines = merge_lines(
            result.texts,
            result.confidences,
            result.box_frame,
            result.frame_times_s,
            result.frame_source,
        )
        return ComponentOutput(
            status="ok" if len(lines.lines_text) else "empty",
            arrays={
                **{f.name: getattr(lines, f.name) for f in dataclasses.fields(lines)},
                **{f.name: getattr(result, f.name) for f in dataclasses.fields(result)},
                "skipped_frames": np.int64(result.skipped_frames),
            },
            models_used=engine_reader.models_used,
            display={
                "lines": len(lines.lines_text),
                "frames_read": int(result.frame_read.sum()),
                "frames_skipped_as_repeats": result.skipped_frames,
            },
        )

    return run_component(
        context, "ocr", active_profile, {"segmenter": segmenter}, read, storage=store
    )


@component_asset(
    "text_features",
    "text",
    "Multilingual text embeddings (USE multilingual v3), language and counts from the OCR "
    "lines and the sidecar's title, description and tags.",
    reads=("ocr",),
)
def text_features(
    context: AssetExecutionContext,
    ocr: dict[str, Artifact],
    profile: ProfileResource,
) -> dict[str, Artifact]:
    embedder = LoadOnce(load_text_embedder)

    def describe(video: VideoInput) -> ComponentOutput:
        upload = video.upload
        if upload.sidecar_error:
            raise DpError(ErrorCode(upload.sidecar_error_code), upload.sidecar_error)
        sidecar = upload.sidecar or {}
        lines = video.upstream["ocr"].arrays.get("lines_text", np.zeros(0, "<U1")).tolist()
        model = embedder.get()
        features = describe_text(
            lines,
            sidecar.get("title"),
            sidecar.get("description"),
            sidecar.get("tags") or [],
            model.embed,
        )
        arrays = {f.name: getattr(features, f.name) for f in dataclasses.fields(features)}
        arrays.pop("status")
        arrays["language"] = np.array(features.language)
        return ComponentOutput(
            status=features.status,
            arrays=arrays,
            models_used=model.models_used if features.status == "ok" else [],
            display={"language": features.language},
        )

    return run_component(context, "text_features", profile.load(), {"ocr": ocr}, describe)
