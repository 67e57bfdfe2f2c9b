"""CLIP and MiDaS through the real code path (loader, onnxruntime, models_used) on STAND-IN
models built in a temp folder.

The stand-ins have random weights: their outputs mean nothing, so these tests check the
I/O contract, determinism, batching, the loaders' reports and errors, never accuracy.
"""

import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_resources.models.families.clip import (
    EMBEDDING_DIM,
    IMAGE_FILE,
    STAND_IN_TOKENIZER,
    TEXT_FILE,
    TEXT_LENGTH,
    TOKENIZER_FILE,
    ClipModel,
    default_clip_dir,
    load_clip,
)
from dp_resources.models.families.midas import (
    DEPTH_SIZE,
    MODEL_FILE,
    DepthModel,
    default_midas_dir,
    load_midas,
)
from dp_resources.models.registry import STAND_IN_MARKER, describe_folder
from dp_tools.stand_ins.clip import build_clip_stand_in
from dp_tools.stand_ins.midas import build_midas_stand_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_clip_stand_in(tmp_path_factory.mktemp("models") / "clip")


@pytest.fixture(scope="module")
def midas_dir(tmp_path_factory):
    return build_midas_stand_in(tmp_path_factory.mktemp("models") / "midas")


@pytest.fixture(scope="module")
def clip(clip_dir):
    return load_clip(clip_dir, batch_size=5, intra_op_threads=1)


@pytest.fixture(scope="module")
def midas(midas_dir):
    return load_midas(midas_dir, batch_size=5, intra_op_threads=1)


@pytest.fixture(scope="module")
def frames():
    """7 frames of different content: noise, flat colours, a gradient."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (7, 180, 320, 3), dtype=np.uint8)
    frames[1] = 0
    frames[2] = (200, 30, 90)
    frames[3] = np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None]
    return frames


def _shape(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def _io(path):
    graph = onnx.load(str(path)).graph
    return (
        [(i.name, _shape(i), i.type.tensor_type.elem_type) for i in graph.input],
        [(o.name, _shape(o), o.type.tensor_type.elem_type) for o in graph.output],
    )


FLOAT, INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64


def test_stand_in_graphs_follow_the_io_contract(clip_dir, midas_dir):
    assert _io(clip_dir / IMAGE_FILE) == (
        [("pixel_values", ["batch", 3, 224, 224], FLOAT)],
        [("image_embedding", ["batch", 512], FLOAT)],
    )
    assert _io(clip_dir / TEXT_FILE) == (
        [("input_ids", ["batch", 77], INT64)],
        [("text_embedding", ["batch", 512], FLOAT)],
    )
    assert _io(midas_dir / MODEL_FILE) == (
        [("image", ["batch", 3, 256, 256], FLOAT)],
        [("depth", ["batch", 256, 256], FLOAT)],
    )
    for folder in (clip_dir, midas_dir):
        assert sum(p.stat().st_size for p in folder.iterdir()) < 5_000_000  # a few MB


@pytest.mark.parametrize(
    ("build", "files"),
    [(build_clip_stand_in, (IMAGE_FILE, TEXT_FILE)), (build_midas_stand_in, (MODEL_FILE,))],
)
def test_same_seed_same_bytes(tmp_path, build, files):
    first = build(tmp_path / "a" / "model")
    again = build(tmp_path / "b" / "model")
    other = build(tmp_path / "c" / "model", seed=1)
    for name in (*files, STAND_IN_MARKER):
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
    for name in files:
        assert (other / name).read_bytes() != (first / name).read_bytes(), name
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["model"]  # no temp folder left


def test_clip_embeddings_are_unit_vectors_whatever_the_batch(clip, frames):
    embedded = clip.embed_frames(frames)  # batch size 5: two runs
    one_by_one = ClipModel(clip.image, clip.text, clip.tokenizer, batch_size=1)
    assert embedded.shape == (7, EMBEDDING_DIM) and embedded.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedded, one_by_one.embed_frames(frames), atol=1e-5)
    assert len({tuple(np.round(e, 4)) for e in embedded}) == 7  # different frames differ
    # Any frame size: preprocessed to 224 x 224 first.
    small = clip.embed_frames(np.full((2, 48, 64, 3), 90, np.uint8))
    assert small.shape == (2, EMBEDDING_DIM)
    assert clip.embed_frames(np.zeros((0, 48, 64, 3), np.uint8)).shape == (0, EMBEDDING_DIM)

    texts = ["a photo of a dog.", "a photo of a cat.", "", "a photo of a dog."]
    embedded = clip.embed_text(texts)
    assert embedded.shape == (4, EMBEDDING_DIM) and embedded.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(embedded, one_by_one.embed_text(texts), atol=1e-5)
    np.testing.assert_allclose(embedded[0], embedded[3], atol=1e-6)
    assert float(embedded[0] @ embedded[1]) < 0.999
    assert clip.embed_text([]).shape == (0, EMBEDDING_DIM)


def test_midas_depth_shapes_and_batching(midas, frames):
    depth = midas.depth(frames)
    assert depth.shape == (7, DEPTH_SIZE, DEPTH_SIZE) and depth.dtype == np.float32
    assert (depth >= 0).all() and np.isfinite(depth).all()
    one_by_one = DepthModel(midas.model, batch_size=1).depth(frames)
    np.testing.assert_allclose(depth, one_by_one, atol=1e-5)
    assert midas.depth(np.zeros((2, 720, 1280, 3), np.uint8)).shape == (2, 256, 256)
    assert midas.depth(np.zeros((0, 10, 10, 3), np.uint8)).shape == (0, 256, 256)


def test_stand_in_tokenizer_has_clips_layout():
    ids, mask = STAND_IN_TOKENIZER.encode(["A photo of a dog.", "", "word " * 200])
    assert ids.shape == mask.shape == (3, TEXT_LENGTH) and ids.dtype == np.int64
    start, end = 1022, 1023
    assert list(ids[0, :7]) == [start, *ids[0, 1:6], end] and mask[0].sum() == 7
    assert ids[0, 1:6].min() > 0 and ids[0, 1:6].max() < start and not ids[0, 7:].any()
    assert list(ids[1, :3]) == [start, end, 0]
    assert ids[2, -1] == end and ids[2].argmax() == TEXT_LENGTH - 1  # truncated, end kept
    assert (STAND_IN_TOKENIZER.encode(["Dog"])[0] == STAND_IN_TOKENIZER.encode(["dog"])[0]).all()


def test_stand_in_text_tower_pools_at_the_end_token(clip_dir):
    """Causal attention + pooling at the largest id (the end token): what follows the end
    token does not change the embedding, what precedes it does."""
    session = ort.InferenceSession(str(clip_dir / TEXT_FILE), providers=["CPUExecutionProvider"])
    ids, _ = STAND_IN_TOKENIZER.encode(["a photo of a dog"])
    noisy = ids.copy()
    noisy[0, 7:] = np.random.default_rng(1).integers(1, 1000, TEXT_LENGTH - 7)
    changed = ids.copy()
    changed[0, 2] = changed[0, 2] % 1000 + 1
    [base, after_end, before_end] = (
        session.run(None, {"input_ids": x})[0] for x in (ids, noisy, changed)
    )
    np.testing.assert_allclose(base, after_end, atol=1e-5)
    assert np.abs(base - before_end).max() > 1e-3


def test_models_used_say_stand_in_with_the_file_digests(clip, clip_dir, midas, midas_dir):
    image, text = clip.models_used
    assert clip.stand_in and image.stand_in and text.stand_in
    assert (image.name, text.name) == (
        "clip-vit-b-32-stand-in-image",
        "clip-vit-b-32-stand-in-text",
    )
    assert image.weights_digest == sha256_file(clip_dir / IMAGE_FILE)
    assert text.weights_digest == sha256_file(clip_dir / TEXT_FILE)
    [depth] = midas.models_used
    assert midas.stand_in and depth.stand_in and depth.name == "midas-v2.1-small-stand-in"
    assert depth.weights_digest == sha256_file(midas_dir / MODEL_FILE)
    for used in (image, text, depth):
        assert (used.engine, used.device, used.precision) == ("onnxruntime", "cpu", "fp32")
        assert used.version == "stand-in-v1-seed0"


def test_default_folders_come_from_dp_model_dir(monkeypatch, clip_dir, midas_dir):
    monkeypatch.setenv("DP_MODEL_DIR", str(clip_dir.parent))
    assert default_clip_dir() == clip_dir and load_clip().stand_in
    monkeypatch.setenv("DP_MODEL_DIR", str(midas_dir.parent))
    assert default_midas_dir() == midas_dir and load_midas().stand_in


@pytest.mark.parametrize(("load", "key"), [(load_clip, "clip"), (load_midas, "midas")])
def test_missing_model_is_model_not_found_with_how_to_get_it(tmp_path, load, key):
    with pytest.raises(DpError) as info:
        load(tmp_path / "nothing-here")
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND
    assert f"dp models pull {key}" in info.value.message
    assert f"dp models stand-in {key}" in info.value.message


@pytest.mark.parametrize(
    ("build", "load", "file"),
    [
        (build_clip_stand_in, load_clip, IMAGE_FILE),
        (build_clip_stand_in, load_clip, TEXT_FILE),
        (build_midas_stand_in, load_midas, MODEL_FILE),
    ],
)
def test_a_tampered_stand_in_is_refused(tmp_path, build, load, file):
    folder = build(tmp_path / "model", seed=3)
    build(folder, seed=4)  # over an existing stand-in: files replaced, still loads
    assert load(folder).models_used[0].version.endswith("seed4")
    (folder / file).write_bytes((folder / file).read_bytes() + b"\0")
    with pytest.raises(DpError) as info:
        load(folder)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND
    assert "stand-in" in info.value.message and file in info.value.message


def _swap_in(folder, source, target):
    """Copy `source` over `target` and point the marker's digest at it (signature checks
    run after the marker check)."""
    old = sha256_file(folder / target)
    shutil.copy(folder / source, folder / target)
    marker = (folder / STAND_IN_MARKER).read_text()
    (folder / STAND_IN_MARKER).write_text(marker.replace(old, sha256_file(folder / target)))


def test_a_tower_with_the_wrong_signature_is_refused(tmp_path, clip_dir, midas_dir):
    folder = tmp_path / "clip"
    shutil.copytree(clip_dir, folder)
    _swap_in(folder, TEXT_FILE, IMAGE_FILE)
    with pytest.raises(DpError) as info:
        load_clip(folder)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND and "pixel_values" in info.value.message
    folder = tmp_path / "midas"
    shutil.copytree(midas_dir, folder)
    shutil.copy(clip_dir / IMAGE_FILE, folder / "other.onnx")
    _swap_in(folder, "other.onnx", MODEL_FILE)
    with pytest.raises(DpError) as info:
        load_midas(folder)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND and "'depth'" in info.value.message


@pytest.mark.parametrize(("load", "fixture"), [(load_clip, "clip_dir"), (load_midas, "midas_dir")])
def test_an_accelerator_where_there_is_none_is_refused(request, load, fixture):
    """CUDA on a machine without it (here: onnxruntime's CPU build) is an error, never a
    quiet CPU run; on a CUDA machine, the first accelerator it lacks."""
    accelerators = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider")
    absent = next(p for p in accelerators if p not in ort.get_available_providers())
    with pytest.raises(DpError) as info:
        load(request.getfixturevalue(fixture), providers=(absent,))
    assert info.value.code is ErrorCode.DEPENDENCY_MISSING and absent in info.value.message


def test_a_real_clip_folder_needs_its_tokenizer(tmp_path, clip_dir):
    real = tmp_path / "clip"
    real.mkdir()
    for name in (IMAGE_FILE, TEXT_FILE):
        shutil.copy(clip_dir / name, real / name)
    with pytest.raises(DpError) as info:
        load_clip(real)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND and TOKENIZER_FILE in info.value.message
    assert "dp models pull clip" in info.value.message


def _toy_bpe(folder, special_tokens):
    """A toy byte-level BPE `tokenizer.json` (the real file is CLIP's 49408-token BPE)."""
    import tokenizers as tk

    tokenizer = tk.Tokenizer(tk.models.BPE())
    tokenizer.normalizer = tk.normalizers.Lowercase()
    tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tk.trainers.BpeTrainer(vocab_size=300, special_tokens=special_tokens)
    tokenizer.train_from_iterator(["a photo of a dog", "a photo of a city street"] * 20, trainer)
    tokenizer.enable_padding(length=77, pad_id=1)  # ignored: the loader frames ids itself
    tokenizer.save(str(folder / TOKENIZER_FILE))


def test_real_clip_loader_path_with_a_toy_tokenizer(tmp_path, clip_dir):
    """The real-model branch (no marker, `tokenizer.json`, `model.json`) driven with the
    stand-in's towers and a toy BPE: it checks the loader and the framing, not a model."""
    folder = tmp_path / "clip"
    folder.mkdir()
    for name in (IMAGE_FILE, TEXT_FILE):
        shutil.copy(clip_dir / name, folder / name)
    _toy_bpe(folder, ["<pad>", "<|startoftext|>", "<|endoftext|>"])
    model = load_clip(folder)
    image, text = model.models_used
    assert not model.stand_in and not image.stand_in and not text.stand_in
    # random-weight towers without their marker: never passed off as the real model
    assert not image.verified and not text.verified
    assert describe_folder(folder, "clip").status == "unverified"
    assert (image.name, text.name) == (
        "openclip-vit-b-32-laion2b-image",
        "openclip-vit-b-32-laion2b-text",
    )
    assert image.version == "unknown" and image.weights_digest == sha256_file(folder / IMAGE_FILE)
    assert text.weights_digest != sha256_file(folder / TEXT_FILE)  # covers tokenizer.json too
    ids, mask = model.tokenizer.encode(["A photo of a dog.", "dog " * 300])
    start, end = model.tokenizer.start_id, model.tokenizer.end_id
    assert (start, end) == (1, 2)  # the toy's ids (CLIP's: 49406, 49407)
    assert ids.shape == mask.shape == (2, TEXT_LENGTH) and ids.dtype == np.int64
    length = int(mask[0].sum())
    assert ids[0, 0] == start and ids[0, length - 1] == end and 3 < length < 20
    assert not ids[0, length:].any() and not mask[0, length:].any()  # padded with 0
    assert ids[1, 0] == start and ids[1, -1] == end and mask[1].all()  # truncated, end kept
    (folder / "model.json").write_text('{"name": "toy-clip", "version": "0.1"}')
    assert load_clip(folder).models_used[0].name == "toy-clip-image"

    _toy_bpe(folder, ["<pad>"])
    with pytest.raises(DpError) as info:
        load_clip(folder)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND and "not a CLIP tokenizer" in str(
        info.value
    )


def test_a_midas_folder_without_marker_is_unverified_never_real(tmp_path, midas_dir):
    """The real-model branch (no marker, a `model.json`) driven with the stand-in's file: its
    digest is not pinned in the family registry, so it is reported unverified, not real."""
    folder = tmp_path / "midas"
    folder.mkdir()
    shutil.copy(midas_dir / MODEL_FILE, folder / MODEL_FILE)
    (folder / "model.json").write_text('{"version": "v2.1", "precision": "fp16"}')
    [used] = load_midas(folder).models_used
    assert (used.name, used.version, used.precision) == ("midas-v2.1-small", "v2.1", "fp16")
    assert not used.stand_in and used.weights_digest == sha256_file(folder / MODEL_FILE)
    assert not used.verified
    info = describe_folder(folder, "midas")
    assert info.status == "unverified" and not info.verified and not info.stand_in


@pytest.mark.parametrize("build", [build_clip_stand_in, build_midas_stand_in])
def test_a_stand_in_never_overwrites_a_real_model(tmp_path, build, clip_dir):
    real = tmp_path / "model"
    real.mkdir()
    for name in (IMAGE_FILE, MODEL_FILE):
        shutil.copy(clip_dir / IMAGE_FILE, real / name)
    with pytest.raises(DpError) as info:
        build(real)
    assert info.value.code is ErrorCode.CONFIG_INVALID
    assert sorted(p.name for p in real.iterdir()) == sorted([IMAGE_FILE, MODEL_FILE])


def test_batch_size_below_one_is_a_config_error(clip_dir, midas_dir):
    for load, folder in ((load_clip, clip_dir), (load_midas, midas_dir)):
        with pytest.raises(DpError) as info:
            load(folder, batch_size=0)
        assert info.value.code is ErrorCode.CONFIG_INVALID
