"""`core_depth_midas`: relative depth per sampled analysis frame (MiDaS), batched."""

from __future__ import annotations

import numpy as np

from dp_assets.components._frame_models import batched_frame_model
from dp_assets.components._shared import result_fields
from dp_assets.step_api import Batched, LoadOnce, StepContext
from dp_core.component_spec import ComponentSpec
from dp_features.visual.depth_stats import depth_statistics
from dp_features.visual.model_inputs import midas_pixels
from dp_resources.models.families.midas import load_midas


def depth_step(step: StepContext) -> Batched:
    midas = LoadOnce(
        lambda: load_midas(
            batch_size=step.settings.batch_size,
            **step.model_options(),
        )
    )
    return batched_frame_model(
        step,
        midas,
        lambda frames: (midas_pixels(frames), None),
        lambda model, pixels: model.depth_of_pixels(pixels),
        lambda model, result, _: result_fields(
            depth_statistics(np.asarray(result.outputs), result.frame_times_s),
            lambda arrays: {"frames": len(result.outputs)},
        ),
    )


SPEC = ComponentSpec(
    name="core_depth_midas",
    group="visual",
    description="Relative depth per sampled analysis frame (MiDaS v2.1 small ONNX; a "
    "labelled stand-in in tests): 64x64 maps and depth statistics, batched across videos.",
    step=depth_step,
    inputs=("segmenter",),
    queue="gpu",
    devices=frozenset({"cpu", "cuda"}),
    runtimes=frozenset({"cpu", "onnxruntime", "triton"}),
    streams=("analysis",),
    arrays=("frame_times_s",),
    model_family="midas",
)
