"""A model converted once at set-up into the model cache (NanoDet, TransNetV2): one ONNX
file beside the `model.json` its converter wrote, loaded only when the file still matches
the digest recorded there and has the family's inputs and outputs."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.onnx_runtime import OnnxModel, planned_onnx_model
from dp_resources.models.registry import (
    MODEL_INFO_FILE,
    ModelFamily,
    model_folder,
    planned_models,
    read_json_object,
)


def load_prepared_onnx(
    family: ModelFamily,
    model_dir: str | Path | None,
    providers: tuple[str, ...],
    intra_op_threads: int,
    inputs: Collection[str],
    outputs: Collection[str],
) -> OnnxModel:
    """The family's single prepared ONNX model; MODEL_NOT_FOUND naming how to prepare it
    when it is missing, altered or not the family's model (`outputs`: at least these)."""
    how_to_get = f"run {family.how_to_get}"
    folder = model_folder(family.name, model_dir)
    [planned] = planned_models(family.name, folder)
    info = read_json_object(folder / MODEL_INFO_FILE, how_to_get)
    if info is None:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{family.label} model in {folder} has no {MODEL_INFO_FILE}: {how_to_get}",
        )
    model = planned_onnx_model(planned, providers, intra_op_threads)
    onnx_file = Path(planned.path).name
    if info.get("sha256", {}).get(onnx_file) != model.model_used.weights_digest:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{planned.path} does not match the digest in its {MODEL_INFO_FILE} "
            f"(modified or half-written): {how_to_get}",
        )
    if set(model.input_names) != set(inputs) or not set(outputs) <= set(model.output_names):
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{planned.path} has inputs {model.input_names} and outputs "
            f"{model.output_names}, not {family.label}'s: {how_to_get}",
        )
    return model
