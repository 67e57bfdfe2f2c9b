"""`text_features`: multilingual embeddings, language and counts from OCR + sidecar."""

from __future__ import annotations

import dataclasses

import numpy as np

from dp_assets.step_api import ComponentOutput, LoadOnce, PerVideo, StepContext, VideoInput
from dp_core.component_spec import ComponentSpec
from dp_core.errors import DpError, ErrorCode
from dp_features.text.text_features import TEXT_FEATURES
from dp_features.text.text_features import text_features as describe_text
from dp_resources.models.families.text import load_text_embedder


def describe_step(step: StepContext) -> PerVideo:
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

    return describe


SPEC = ComponentSpec(
    name="text_features",
    group="text",
    description="Multilingual text embeddings (USE multilingual v3), language and counts "
    "from the OCR lines and the sidecar's title, description and tags.",
    step=describe_step,
    inputs=("ocr",),
    queue="gpu",
    runtimes=frozenset({"cpu", "inprocess"}),
    arrays=("embedding", "language"),
    model_family="use",
    features=TEXT_FEATURES,
)
