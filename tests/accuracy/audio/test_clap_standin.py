"""CLAP through the real code path (loader, onnxruntime, models_used) on a STAND-IN model.

The stand-in has random weights: its embeddings mean nothing, so these tests check the
I/O contract, determinism, the loader's reports and errors, and that the feature runs
end to end on it, never semantic accuracy (the scoring is checked against known truth
with an oracle embedder in tests/unit/audio/test_clap.py).
"""

import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_features.audio.clap import ClapParams, ClapStream, clap_embeddings
from dp_resources.models.families.clap import (
    AUDIO_FILE,
    EMBEDDING_DIM,
    STAND_IN_MARKER,
    STAND_IN_NAME,
    TEXT_FILE,
    TEXT_LENGTH,
    TOKENIZER_FILE,
    WINDOW_SAMPLES,
    ClapModel,
    StandInTokenizer,
    default_clap_dir,
    load_clap,
)
from dp_tools.stand_ins.clap import build_clap_stand_in

pytestmark = pytest.mark.accuracy


@pytest.fixture(scope="module")
def stand_in_dir(tmp_path_factory):
    return build_clap_stand_in(tmp_path_factory.mktemp("models") / "clap")


@pytest.fixture(scope="module")
def clap(stand_in_dir):
    return load_clap(stand_in_dir, batch_size=4, intra_op_threads=1)


def tone(seconds, rate, hz=1000.0, channels=1):
    t = np.arange(round(seconds * rate)) / rate
    return np.tile((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), (channels, 1))


def _shape(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_stand_in_graphs_follow_the_io_contract(stand_in_dir):
    audio = onnx.load(str(stand_in_dir / AUDIO_FILE))
    text = onnx.load(str(stand_in_dir / TEXT_FILE))
    [waveform] = audio.graph.input
    [audio_out] = audio.graph.output
    assert (waveform.name, _shape(waveform)) == ("waveform", ["batch", WINDOW_SAMPLES])
    assert waveform.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert (audio_out.name, _shape(audio_out)) == ("audio_embedding", ["batch", EMBEDDING_DIM])
    assert [(i.name, _shape(i), i.type.tensor_type.elem_type) for i in text.graph.input] == [
        ("input_ids", ["batch", TEXT_LENGTH], onnx.TensorProto.INT64),
        ("attention_mask", ["batch", TEXT_LENGTH], onnx.TensorProto.INT64),
    ]
    [text_out] = text.graph.output
    assert (text_out.name, _shape(text_out)) == ("text_embedding", ["batch", EMBEDDING_DIM])
    # Runs with the contract's inputs and gives float32 [B, 512].
    session = ort.InferenceSession(
        str(stand_in_dir / AUDIO_FILE), providers=["CPUExecutionProvider"]
    )
    [out] = session.run(None, {"waveform": np.zeros((3, WINDOW_SAMPLES), np.float32)})
    assert out.shape == (3, EMBEDDING_DIM) and out.dtype == np.float32
    session = ort.InferenceSession(
        str(stand_in_dir / TEXT_FILE), providers=["CPUExecutionProvider"]
    )
    ids, mask = StandInTokenizer().encode(["a dog", "rain on a roof"])
    [out] = session.run(None, {"input_ids": ids, "attention_mask": mask})
    assert out.shape == (2, EMBEDDING_DIM) and out.dtype == np.float32
    total = sum(p.stat().st_size for p in stand_in_dir.iterdir())
    assert total < 5_000_000  # a few MB


def test_stand_in_is_deterministic_per_seed(tmp_path, stand_in_dir):
    again = build_clap_stand_in(tmp_path / "again" / "clap")
    for name in (AUDIO_FILE, TEXT_FILE, STAND_IN_MARKER):
        assert (again / name).read_bytes() == (stand_in_dir / name).read_bytes(), name
    other = build_clap_stand_in(tmp_path / "other" / "clap", seed=1)
    assert (other / AUDIO_FILE).read_bytes() != (stand_in_dir / AUDIO_FILE).read_bytes()
    assert (other / TEXT_FILE).read_bytes() != (stand_in_dir / TEXT_FILE).read_bytes()
    assert not [p for p in (tmp_path / "again").iterdir() if p.name != "clap"]  # no temp left


def test_stand_in_tokenizer_shapes_and_special_tokens():
    ids, mask = StandInTokenizer().encode(["This is a sound of dog.", "", "word " * 200])
    assert ids.shape == mask.shape == (3, TEXT_LENGTH) and ids.dtype == mask.dtype == np.int64
    assert list(ids[0, :8]) == [0, *ids[0, 1:7], 2, 1][:8] and mask[0].sum() == 8
    assert list(ids[1, :3]) == [0, 2, 1] and mask[1].sum() == 2
    assert mask[2].all() and ids[2, -1] == 2  # truncated to 77 with </s> last
    assert (StandInTokenizer().encode(["Dog"])[0] == StandInTokenizer().encode(["dog"])[0]).all()


def test_load_reports_a_stand_in_with_both_digests(clap, stand_in_dir):
    audio, text = clap.models_used
    assert clap.stand_in and audio.stand_in and text.stand_in
    assert (audio.name, text.name) == (f"{STAND_IN_NAME}-audio", f"{STAND_IN_NAME}-text")
    assert audio.weights_digest == sha256_file(stand_in_dir / AUDIO_FILE)
    assert text.weights_digest == sha256_file(stand_in_dir / TEXT_FILE)
    assert {audio.engine, text.engine, audio.device, audio.precision} == {
        "onnxruntime",
        "cpu",
        "fp32",
    }
    assert audio.version.startswith("stand-in")


def test_default_folder_comes_from_dp_model_dir(monkeypatch, stand_in_dir):
    monkeypatch.setenv("DP_MODEL_DIR", str(stand_in_dir.parent))
    assert default_clap_dir() == stand_in_dir
    assert load_clap().stand_in
    monkeypatch.delenv("DP_MODEL_DIR")
    monkeypatch.setenv("DP_MODEL_CACHE", "/somewhere/cache")
    assert str(default_clap_dir()) == "/somewhere/cache/clap"


def test_missing_model_names_the_commands(tmp_path):
    with pytest.raises(DpError) as info:
        load_clap(tmp_path / "nothing-here")
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND
    assert "dp models pull clap" in info.value.message
    assert "dp models stand-in clap" in info.value.message


def test_real_folder_needs_its_tokenizer_and_the_library(tmp_path, stand_in_dir, monkeypatch):
    real = tmp_path / "clap"
    real.mkdir()
    for name in (AUDIO_FILE, TEXT_FILE):
        shutil.copy(stand_in_dir / name, real / name)
    with pytest.raises(DpError) as info:
        load_clap(real)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND and TOKENIZER_FILE in info.value.message
    (real / TOKENIZER_FILE).write_text("{}")
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # as if not installed
    with pytest.raises(DpError) as info:
        load_clap(real)
    assert info.value.code is ErrorCode.DEPENDENCY_MISSING and "tokenizers" in info.value.message


def test_real_loader_path_with_a_toy_bpe_tokenizer(tmp_path, stand_in_dir):
    """The real-model branch (no marker, `tokenizer.json`, `model.json`), driven with the
    stand-in's towers and a toy byte-level BPE tokenizer: it checks the loader, not a
    real model. `tokenizers` is a test dependency (optional at run time)."""
    import tokenizers as tk

    tokenizer = tk.Tokenizer(tk.models.BPE())
    tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tk.trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>"])
    tokenizer.train_from_iterator(["this is a sound of dog", "music and speech"] * 20, trainer)
    tokenizer.post_processor = tk.processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    folder = tmp_path / "clap"
    folder.mkdir()
    for name in (AUDIO_FILE, TEXT_FILE):
        shutil.copy(stand_in_dir / name, folder / name)
    tokenizer.save(str(folder / TOKENIZER_FILE))
    (folder / "model.json").write_text('{"name": "toy-clap", "version": "0.1"}')
    model = load_clap(folder)
    audio, text = model.models_used
    assert not model.stand_in and (audio.name, text.name) == ("toy-clap-audio", "toy-clap-text")
    assert not audio.verified and not text.verified  # unpinned digests: never reported real
    assert audio.weights_digest == sha256_file(folder / AUDIO_FILE)
    assert text.weights_digest != sha256_file(folder / TEXT_FILE)  # covers tokenizer.json too
    ids, mask = model.tokenizer.encode(["This is a sound of dog.", "x " * 300])
    assert ids.shape == mask.shape == (2, TEXT_LENGTH) and ids.dtype == np.int64
    assert ids[0, 0] == 0 and ids[1, -1] == 2 and mask[1].all() and not mask[0].all()
    np.testing.assert_allclose(
        np.linalg.norm(model.embed_text(["a dog", "music"]), axis=1), 1.0, atol=1e-5
    )


def test_a_stand_in_never_overwrites_a_real_model(tmp_path, stand_in_dir):
    real = tmp_path / "clap"
    real.mkdir()
    shutil.copy(stand_in_dir / AUDIO_FILE, real / AUDIO_FILE)
    with pytest.raises(DpError) as info:
        build_clap_stand_in(real)
    assert info.value.code is ErrorCode.CONFIG_INVALID


def test_rebuilding_and_tampering(tmp_path):
    folder = build_clap_stand_in(tmp_path / "clap", seed=3)
    build_clap_stand_in(folder, seed=4)  # over an existing stand-in: files replaced
    assert load_clap(folder).models_used[0].version.endswith("seed4")
    (folder / TEXT_FILE).write_bytes((folder / TEXT_FILE).read_bytes() + b"\0")
    with pytest.raises(DpError) as info:
        load_clap(folder)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND and "stand-in" in info.value.message


def test_a_tower_with_the_wrong_signature_is_refused(tmp_path, stand_in_dir):
    folder = tmp_path / "clap"
    shutil.copytree(stand_in_dir, folder)
    shutil.copy(stand_in_dir / TEXT_FILE, folder / AUDIO_FILE)
    marker = (folder / STAND_IN_MARKER).read_text()
    marker = marker.replace(
        sha256_file(stand_in_dir / AUDIO_FILE), sha256_file(folder / AUDIO_FILE)
    )
    (folder / STAND_IN_MARKER).write_text(marker)
    with pytest.raises(DpError) as info:
        load_clap(folder)
    assert info.value.code is ErrorCode.MODEL_NOT_FOUND and "waveform" in info.value.message


def test_a_provider_that_is_not_there_is_refused(stand_in_dir):
    accelerators = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider")
    absent = next(p for p in accelerators if p not in ort.get_available_providers())
    with pytest.raises(DpError) as info:
        load_clap(stand_in_dir, providers=(absent,))
    assert info.value.code is ErrorCode.DEPENDENCY_MISSING


def test_embeddings_are_unit_norm_and_batching_does_not_change_them(clap):
    rng = np.random.default_rng(0)
    windows = np.stack(
        [
            np.zeros(WINDOW_SAMPLES),
            tone(10.0, 48000)[0],
            *(0.1 * rng.standard_normal((4, WINDOW_SAMPLES))),
        ]
    ).astype(np.float32)
    batched = clap.embed_audio(windows)  # batch size 4: two runs
    one_by_one = ClapModel(clap.audio, clap.text, clap.tokenizer, batch_size=1).embed_audio(windows)
    assert batched.shape == (6, EMBEDDING_DIM) and batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    texts = clap.embed_text(["This is a sound of speech.", "This is a sound of music.", ""])
    assert texts.shape == (3, EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    assert clap.embed_audio(np.zeros((0, WINDOW_SAMPLES), np.float32)).shape == (0, EMBEDDING_DIM)
    with pytest.raises(DpError):
        clap.embed_audio(np.zeros((1, 1000), np.float32))


def test_feature_end_to_end_on_the_stand_in(clap):
    """44.1 kHz stereo, fed in uneven chunks, against the same tone at 48 kHz mono: the
    stand-in's features are continuous in the waveform, so the embeddings nearly agree."""
    native = tone(25.0, 44100, channels=2)
    sizes = [1_000_000, 37, 54_321]
    stream = ClapStream(clap, 44100, ClapParams(batch_size=2))
    at = 0
    for size in [*sizes, native.shape[1]]:
        stream.feed(native[:, at : at + size], at / 44100)
        at += native[:, at : at + size].shape[1]
    resampled = stream.finish()
    reference = clap_embeddings([(tone(25.0, 48000), 0.0)], clap, 48000)
    np.testing.assert_allclose(resampled.window_times_s, [[0, 10], [10, 20], [20, 25]])
    np.testing.assert_allclose(reference.window_times_s, resampled.window_times_s)
    cosine = np.sum(resampled.embeddings * reference.embeddings, axis=1)
    assert cosine.min() > 0.99
    np.testing.assert_allclose(np.linalg.norm(resampled.embeddings, axis=1), 1.0, atol=1e-5)
    assert np.linalg.norm(resampled.embedding) == pytest.approx(1.0, abs=1e-5)
    assert resampled.tag_scores.sum() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(resampled.window_tag_scores.sum(axis=1), 1.0, rtol=1e-5)
    arrays = resampled.as_arrays()
    assert (
        arrays["embeddings"].shape == (3, EMBEDDING_DIM) and arrays["tag_names"].dtype.kind == "U"
    )
