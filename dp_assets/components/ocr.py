"""`ocr`: on-screen text per sampled analysis frame, de-duplicated lines with spans."""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from pydantic import Field

from dp_assets.step_api import (
    ComponentOutput,
    LoadOnce,
    PerVideo,
    PreviewSource,
    StepContext,
    VideoInput,
)
from dp_core.component_spec import ComponentSpec, Params
from dp_features.previews import SpanLane, timeline
from dp_features.text.ocr import OCR_FEATURES, FrameOcr, OcrConfig
from dp_features.text.ocr_lines import merge_lines
from dp_resources.models.families.text import load_ocr_reader


class OcrParams(Params):
    """`engine` and its options; an option the chosen engine does not take is refused
    when the step loads it (CONFIG_INVALID naming it)."""

    engine: Literal["rapidocr", "tesseract", "rapidocr+tesseract"] = "rapidocr"
    threads: int | None = Field(None, ge=0)
    det_max_side: int | None = Field(None, ge=32)
    use_cls: bool | None = None
    text_score: float | None = Field(None, gt=0, lt=1)
    languages: tuple[str, ...] | None = None
    psm: int | None = Field(None, ge=0, le=13)
    scale: float | None = Field(None, gt=0)
    min_word_confidence: float | None = Field(None, ge=0, le=1)
    min_line_chars: int | None = Field(None, ge=1)
    min_cyrillic_share: float | None = Field(None, ge=0, le=1)

    def engine_options(self) -> dict:
        return self.model_dump(exclude={"engine"}, exclude_none=True)


def read_step(step: StepContext) -> PerVideo:
    params: OcrParams = step.params
    options = params.engine_options()
    if step.settings.device != "cpu":  # only RapidOCR runs on CUDA; the others refuse it
        options["device"] = step.settings.device
    reader = LoadOnce(lambda: load_ocr_reader(params.engine, **options))

    def read(video: VideoInput) -> ComponentOutput:
        frames = video.frames
        if not frames.metadata["has_video"]:
            return ComponentOutput(status="empty", warnings=["the video has no video stream"])
        engine_reader = reader.get()
        reading = FrameOcr(engine_reader, OcrConfig())
        for chunk in frames.budget_frames(step.name):
            reading.add(chunk.frames, chunk.times_s)
        result = reading.result()
        lines = merge_lines(
            result.texts,
            result.confidences,
            result.box_frame,
            result.frame_times_s,
            result.frame_source,
            duration_s=frames.metadata["duration_s"],  # text on at the end lasts to the end
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

    return read


def ocr_preview(source: PreviewSource) -> bytes:
    a = source.arrays
    texts = [str(t) for t in np.asarray(a["lines_text"]).ravel()]
    lane = SpanLane("text lines", a["lines_span_s"], texts)
    title = f"{len(texts)} on-screen text line(s), first {lane.rows()} by time"
    return timeline(source.duration_s, [lane], title)


SPEC = ComponentSpec(
    name="ocr",
    group="text",
    description="On-screen text per sampled frame (RapidOCR; Tesseract for Cyrillic where "
    "the profile asks), near-identical frames read once, de-duplicated lines with spans.",
    step=read_step,
    inputs=("segmenter",),
    queue="gpu",
    devices=frozenset({"cpu", "cuda"}),
    runtimes=frozenset({"cpu", "onnxruntime", "inprocess"}),
    streams=("analysis",),
    params=OcrParams,
    arrays=("lines_text", "lines_span_s", "lines_confidence"),
    model_family="rapidocr",
    features=OCR_FEATURES,
    preview=ocr_preview,
)
