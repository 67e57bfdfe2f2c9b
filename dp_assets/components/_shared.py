"""What several component step bodies share: outputs for a missing stream, the analysis
parameters visual artifacts record, and a dp_features result as output fields."""

from __future__ import annotations

from collections.abc import Callable

from dp_assets.step_api import ComponentOutput
from dp_core.artifact import Artifact


def no_video() -> ComponentOutput:
    return ComponentOutput(status="empty", warnings=["the file has no video stream"])


def no_audio() -> ComponentOutput:
    return ComponentOutput(status="empty", warnings=["the video has no audio stream"])


def analysis_meta(upstream: Artifact) -> dict:
    """The analysis parameters every visual artifact records (SPEC: NPZ artifact), copied
    from the segmenter's artifact or from an upstream visual one."""
    meta = upstream.meta
    return {
        "analysis_fps": meta.analysis_fps,
        "analysis_width": meta.analysis_width,
        "analysis_height": meta.analysis_height,
    }


def result_fields(result, display: Callable[[dict], dict]) -> dict:
    """ComponentOutput fields from a dp_features result (`status`, `reason`, `as_arrays`)."""
    arrays = result.as_arrays()
    return {
        "status": result.status,
        "arrays": arrays,
        "warnings": [result.reason] if getattr(result, "reason", "") else [],
        "display": display(arrays),
    }
