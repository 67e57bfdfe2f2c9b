"""The full-size stand-ins (production architectures and sizes, random weights) that the GPU
check (benchmarks/gpu_check.py) measures: their parameter counts are the published
architectures', and the real loaders take their folders unchanged (contract shapes,
labelled stand-ins). Each folder is built once for the module (~0.8 GB in a temp dir,
removed after)."""

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest

from dp_resources.models.families.clap import AUDIO_FILE, WINDOW_SAMPLES, load_clap
from dp_resources.models.families.clip import IMAGE_FILE, TEXT_FILE, load_clip
from dp_resources.models.families.midas import MODEL_FILE, load_midas
from dp_resources.models.registry import STAND_IN_MARKER
from dp_tools.stand_ins import build_stand_in
from dp_tools.stand_ins.layers import parameter_count
from dp_tools.stand_ins.midas_full import LITE3_STAGES

pytestmark = pytest.mark.unit


def transformer_parameters(width: int, layers: int) -> int:
    """Pre-norm blocks with a 4x MLP: in/out projections 4 w^2 + 4 w, MLP 8 w^2 + 5 w,
    two layer norms 4 w."""
    return layers * (12 * width**2 + 13 * width)


# OpenCLIP ViT-B-32 (open_clip model_configs/ViT-B-32.json): conv1 3x32x32 -> 768 without
# bias, class embedding, 50 positions, ln_pre, 12 blocks, ln_post, projection 768 x 512.
VIT_B_32_IMAGE = (
    768 * 3 * 32 * 32 + 768 + 50 * 768 + 2 * 768 + transformer_parameters(768, 12) + 2 * 768
) + 768 * 512
# Text: 49,408 x 512 tokens, 77 positions, 12 blocks, ln_final, projection 512 x 512.
VIT_B_32_TEXT = 49408 * 512 + 77 * 512 + transformer_parameters(512, 12) + 2 * 512 + 512 * 512
# MiDaS v2.1 small (midas_v21_small_256): "21 M" parameters (isl-org/MiDaS README).
MIDAS_SMALL = 21.3e6


@pytest.fixture(scope="module")
def folders():
    # a temp dir removed at the end of the module (pytest keeps its own: ~0.8 GB each)
    with tempfile.TemporaryDirectory(prefix="full-size-stand-ins-") as tmp:
        names = ("clip", "midas", "clap")
        yield {name: build_stand_in(name, Path(tmp) / name, size="full") for name in names}


def test_clip_towers_have_the_parameter_counts_of_vit_b_32(folders):
    image = onnx.load(folders["clip"] / IMAGE_FILE)
    text = onnx.load(folders["clip"] / TEXT_FILE)
    assert VIT_B_32_IMAGE == 87_849_216 and VIT_B_32_TEXT == 63_428_096  # published 87.8 M / 63.4 M
    assert parameter_count(image) == VIT_B_32_IMAGE
    assert parameter_count(text) == VIT_B_32_TEXT


def test_midas_has_the_parameter_count_of_midas_small(folders):
    graph = onnx.load(folders["midas"] / MODEL_FILE)
    # PyTorch counts what the folded export does not hold: a scale per encoder batch-norm
    # channel (each encoder conv's bias here is its folded batch norm) and refinenet4's
    # first residual unit (two 512 x 512 3 x 3 convs with bias), never run.
    batch_norm_scales = sum(
        int(np.prod(t.dims))
        for t in graph.graph.initializer
        if t.name.endswith(".bias") and t.name.startswith(("conv_stem", "blocks."))
    )
    unused_unit = 2 * (512 * 512 * 9 + 512)
    pytorch_count = parameter_count(graph) + batch_norm_scales + unused_unit
    assert abs(pytorch_count - MIDAS_SMALL) < 0.005 * MIDAS_SMALL
    # the encoder is EfficientNet-Lite3's: 24 blocks, ending at 384 channels
    assert sum(stage[1] for stage in LITE3_STAGES) == 24 and LITE3_STAGES[-1][-1] == 384


def test_clap_audio_tower_is_the_size_of_htsat_tiny_with_clap_projection(folders):
    audio = onnx.load(folders["clap"] / AUDIO_FILE)
    expected = (
        10 * 64 * 768
        + 768  # 10-frame x 64-band tokens -> 768
        + 100 * 768  # positions
        + transformer_parameters(768, 4)
        + 2 * 768  # final norm
        + 768 * 512
        + 512
        + 512 * 512
        + 512  # CLAP's audio projection
    )
    assert parameter_count(audio) == expected
    assert 27e6 < expected < 32e6  # HTSAT-tiny (~28 M) + projection


def test_full_size_folders_are_marked_stand_ins_of_their_own_version(folders):
    for name, folder in folders.items():
        marker = json.loads((folder / STAND_IN_MARKER).read_text())
        assert marker["stand_in"] is True and marker["size"] == "full", name
        assert marker["version"] == "stand-in-full-v1-seed0", name


def test_the_real_loaders_run_the_full_size_stand_ins_with_the_contract_shapes(folders):
    frames = np.random.default_rng(0).integers(0, 256, (2, 120, 160, 3), dtype=np.uint8)
    clip = load_clip(folders["clip"])
    images = clip.embed_frames(frames)
    texts = clip.embed_text(["a dog on a beach", "a city at night", "x"])
    assert images.shape == (2, 512) and texts.shape == (3, 512)
    assert np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert all(m.stand_in and "full" in m.version for m in clip.models_used)

    depth = load_midas(folders["midas"]).depth(frames)
    assert depth.shape == (2, 256, 256) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and (depth >= 0).all()  # MiDaS ends in a ReLU

    clap = load_clap(folders["clap"])
    audio = clap.embed_audio(np.zeros((1, WINDOW_SAMPLES), np.float32))
    assert audio.shape == (1, 512) and np.isfinite(audio).all()
    assert all(m.stand_in for m in clap.models_used)
