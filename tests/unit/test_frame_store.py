"""Chunked frame streams: a budget reads only its frames, in slices, with their own times."""

import numpy as np
import pytest

from dp_resources.media.segmented_video import BUDGET_SLICE_FRAMES, SegmentedVideo
from dp_resources.storage.backends import LocalStorage
from dp_resources.storage.frame_store import VideoStreamWriter, iter_video_chunks

pytestmark = pytest.mark.unit


def frame_of_level(level: int) -> np.ndarray:
    return np.full((16, 24, 3), level, np.uint8)  # flat: JPEG keeps the level exactly


@pytest.fixture
def stream(tmp_path):
    """20 frames in chunks of 8; frame i has level 10 * i, time i / 2 s, source frame 3 * i."""
    storage = LocalStorage(tmp_path / "store")
    writer = VideoStreamWriter(storage, "v/analysis", frames_per_chunk=8, jpeg_quality=95)
    for i in range(20):
        writer.add(frame_of_level(10 * i), i / 2, 3 * i)
    writer.close()
    return storage, writer.index_sha256


def levels(chunk) -> list[int]:
    return [round(float(f.mean())) for f in chunk.frames]


def all_levels(chunks) -> list[int]:
    return [level for chunk in chunks for level in levels(chunk)]


def test_all_frames_in_stored_chunks_by_default(stream):
    storage, digest = stream
    chunks = list(iter_video_chunks(storage, "v/analysis", digest))
    assert [len(c.frames) for c in chunks] == [8, 8, 4]
    assert all_levels(chunks) == [10 * i for i in range(20)]
    assert np.concatenate([c.positions for c in chunks]).tolist() == list(range(20))


def test_positions_and_slices(stream):
    storage, digest = stream
    wanted = np.array([19, 0, 3, 3, 7, 8, 9, 10, 11, 12])  # unsorted, a repeat
    chunks = list(iter_video_chunks(storage, "v/analysis", digest, wanted, max_frames=2))
    # slices never span two stored chunks: [0, 3] [7] | [8, 9] [10, 11] [12] | [19]
    assert [c.positions.tolist() for c in chunks] == [[0, 3], [7], [8, 9], [10, 11], [12], [19]]
    for chunk in chunks:
        assert levels(chunk) == (10 * chunk.positions).tolist()
        assert chunk.times_s.tolist() == (chunk.positions / 2).tolist()
        assert chunk.source_frames.tolist() == (3 * chunk.positions).tolist()
    assert list(iter_video_chunks(storage, "v/analysis", digest, np.array([], np.int64))) == []


def test_budget_frames_read_only_the_budget(stream, monkeypatch):
    storage, digest = stream
    import dp_resources.storage.frame_store as frame_store

    decoded = []
    original = frame_store.decode_jpeg
    monkeypatch.setattr(frame_store, "decode_jpeg", lambda b: decoded.append(1) or original(b))
    video = SegmentedVideo(storage, "v", {"analysis/index.json": digest})
    video.__dict__["frame_budgets"] = {"shot_quality": {"indices": [1, 2, 15]}}
    chunks = list(video.budget_frames("shot_quality"))
    assert sum(len(c.frames) for c in chunks) == len(decoded) == 3
    assert all_levels(chunks) == [10, 20, 150]
    assert BUDGET_SLICE_FRAMES >= 1 and all(len(c.frames) <= BUDGET_SLICE_FRAMES for c in chunks)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_decode_matches_pillow_pixel_for_pixel(mode):
    import io

    from PIL import Image

    from dp_resources.storage.frame_store import decode_jpeg

    rng = np.random.default_rng(3)
    picture = rng.integers(0, 256, (45, 70, 3), np.uint8)  # noise: every IDCT path differs
    buffer = io.BytesIO()
    Image.fromarray(picture).convert(mode).save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    decoded = decode_jpeg(data)
    assert decoded.dtype == np.uint8 and decoded.shape == (45, 70, 3)
    np.testing.assert_array_equal(decoded, expected)
    with pytest.raises(OSError):
        decode_jpeg(b"not a jpeg")


def test_audio_chunks_cut_at_chunk_length_whatever_the_blocks(tmp_path):
    from dp_core.errors import DpError
    from dp_resources.storage.frame_store import AudioStreamWriter, iter_audio_chunks

    storage = LocalStorage(tmp_path / "store")
    writer = AudioStreamWriter(storage, "v/audio", 100, 0.5, ["FL", "FR"])  # 50 per chunk
    signal = np.arange(2 * 237, dtype=np.float32).reshape(2, 237)
    for start, stop in [(0, 0), (0, 7), (7, 50), (50, 51), (51, 200), (200, 237)]:
        writer.add(signal[:, start:stop], 1.5)
    index = writer.close()
    chunks = list(iter_audio_chunks(storage, "v/audio", writer.index_sha256))
    assert [c.samples.shape[1] for c in chunks] == [50, 50, 50, 50, 37]
    assert [c.start_s for c in chunks] == [1.5, 2.0, 2.5, 3.0, 3.5]
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks], axis=1), signal)
    assert index["samples"] == 237 and index["channels"] == 2
    with pytest.raises(DpError):
        writer.add(np.zeros((1, 5), np.float32), 0.0)  # a mono block in a stereo stream


@pytest.mark.parametrize("quality", [85, 90, 95])
def test_jpeg_encode_writes_pillows_bytes(quality):
    import io

    from PIL import Image

    from dp_core.errors import DpError
    from dp_resources.storage.frame_store import encode_jpeg

    rng = np.random.default_rng(quality)
    picture = rng.integers(0, 256, (37, 53, 3), np.uint8)  # odd sizes: partial blocks
    buffer = io.BytesIO()
    Image.fromarray(picture, mode="RGB").save(buffer, format="JPEG", quality=quality)
    assert encode_jpeg(picture, quality) == buffer.getvalue()
    mirrored = picture[:, ::-1]  # a view with negative strides, as a rotated frame is
    assert encode_jpeg(mirrored, quality) == encode_jpeg(mirrored.copy(), quality)
    assert encode_jpeg(mirrored, quality) != buffer.getvalue()
    with pytest.raises(DpError):
        encode_jpeg(picture[..., 0], quality)  # grey: not what the streams hold
