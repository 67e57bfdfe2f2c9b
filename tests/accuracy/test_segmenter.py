"""The segmenter on synthetic clips with known content, and on the real sample clips."""

import json

import av
import numpy as np
import pytest

from dp_assets.components import analysis_readers, load_profile, parse_profile
from dp_core.errors import DpError, ErrorCode
from dp_resources.media.segmentation import segment_video
from dp_resources.storage.backends import LocalStorage
from dp_resources.storage.frame_store import iter_audio_chunks, iter_video_chunks, read_index
from tests.fixtures.media import ClipSpec, frame_level, make_clip

pytestmark = pytest.mark.accuracy
PREFIX = "frames_dir/local/clip/run"


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "store")


def segment(path, storage, profile=None):
    profile = profile or load_profile("cpu_baseline")
    return segment_video(path, storage, PREFIX, profile, analysis_readers(profile))


def video_frames(storage, stream):
    chunks = list(iter_video_chunks(storage, f"{PREFIX}/{stream}"))
    return (
        np.concatenate([c.frames for c in chunks]),
        np.concatenate([c.times_s for c in chunks]),
        np.concatenate([c.source_frames for c in chunks]),
    )


def audio(storage, stream):
    return np.concatenate(
        [c.samples for c in iter_audio_chunks(storage, f"{PREFIX}/{stream}")], axis=1
    )


def test_one_pass_gives_every_stream_with_known_content(media_dir, storage):
    clip = make_clip(
        media_dir / "known.mp4", ClipSpec(duration_s=4.0, fps=25, width=320, height=240)
    )
    result = segment(clip, storage)
    meta = json.loads(storage.get_bytes(f"{PREFIX}/metadata.json"))
    assert meta["duration_s"] == pytest.approx(4.0, abs=0.05)
    assert (meta["native_fps"], meta["width"], meta["height"]) == (25.0, 320, 240)
    assert meta["has_audio"] and meta["has_video"] and meta["rotation"] == 0
    assert (meta["analysis_fps"], meta["analysis_width"], meta["analysis_height"]) == (
        2.0,
        320,
        240,
    )

    frames, times, sources = video_frames(storage, "analysis")
    np.testing.assert_allclose(times, np.arange(8) * 0.5, atol=0.021)
    np.testing.assert_array_equal(result.analysis_times_s, times)
    for frame, source in zip(frames, sources, strict=True):
        assert abs(float(frame.mean()) - frame_level(int(source))) < 2.5  # the right frame

    dense, dense_times, _ = video_frames(storage, "dense")
    assert dense.shape == (100, 120, 160, 3)  # every native frame, 160 px wide
    np.testing.assert_allclose(np.diff(dense_times), 0.04, atol=1e-3)

    mono = audio(storage, "audio_model")
    assert mono.shape[0] == 1 and mono.shape[1] == pytest.approx(4.0 * 16000, rel=0.01)
    spectrum = np.abs(np.fft.rfft(mono[0]))
    assert np.fft.rfftfreq(mono.shape[1], 1 / 16000)[spectrum.argmax()] == pytest.approx(440, abs=2)

    native = audio(storage, "audio_native")
    index = read_index(storage, f"{PREFIX}/audio_native")
    assert native.shape[0] == 2 and index["sample_rate"] == 48000
    steady = native[:, 48000:-48000]  # AAC edges ramp: measure the middle
    rms = np.sqrt(np.mean(steady**2, axis=1))
    np.testing.assert_allclose(rms, 0.25 / np.sqrt(2), rtol=0.02)  # amplitude survives

    budgets = json.loads(storage.get_bytes(f"{PREFIX}/frame_budgets.json"))
    # cpu_baseline's analysis-frame readers (by their specs), each budgeted at 1 fps; the
    # dense-stream and audio readers get none
    assert sorted(budgets) == sorted(analysis_readers(load_profile("cpu_baseline")))
    assert {"shot_quality", "ocr", "core_face_landmarks"} <= set(budgets)
    assert not {"cut_detection", "core_optical_flow", "tempo_extractor"} & set(budgets)
    for budget in budgets.values():
        np.testing.assert_allclose(budget["times_s"], [0.0, 1.0, 2.0, 3.0], atol=0.021)
    assert storage.exists(f"{PREFIX}/thumbnail.jpg")


def test_per_component_frame_budgets(media_dir, storage):
    clip = make_clip(media_dir / "budget.mp4", ClipSpec(duration_s=6.0, audio=False))
    data = load_profile("cpu_baseline").model_dump(mode="json")
    data["components"].update(
        cut_detection={},
        shot_quality={"frame_budget": {"max_frames": 4}},
        core_clip={"frame_budget": {"fps": 1.0}},
        ocr={},
    )
    segment(clip, storage, parse_profile(data))
    budgets = json.loads(storage.get_bytes(f"{PREFIX}/frame_budgets.json"))
    profile = parse_profile(data)
    assert set(budgets) == set(analysis_readers(profile))
    assert {"core_clip", "shot_quality", "ocr"} <= set(budgets) and "cut_detection" not in budgets
    assert len(budgets["shot_quality"]["indices"]) == 4
    np.testing.assert_allclose(budgets["core_clip"]["times_s"], np.arange(6.0), atol=0.05)
    assert len(budgets["ocr"]["indices"]) == 12


def test_rotation_metadata_gives_upright_frames(media_dir, storage):
    clip = make_clip(
        media_dir / "rotated.mp4",
        ClipSpec(duration_s=1.0, width=320, height=240, rotation=90, marker=True, audio=False),
    )
    segment(clip, storage)
    meta = json.loads(storage.get_bytes(f"{PREFIX}/metadata.json"))
    assert (meta["width"], meta["height"], meta["rotation"]) == (240, 320, 90)
    frames, _, _ = video_frames(storage, "analysis")
    assert frames.shape[1:3] == (320, 240)  # portrait
    # the coded left-edge marker is at the bottom once rotated 90° counter-clockwise
    assert frames[0, -10:].mean() > 200 and frames[0, :10].mean() < 150


def test_variable_frame_rate_is_sampled_by_time(media_dir, storage):
    times = (0.0, 0.04, 0.08, 0.9, 0.94, 2.1, 2.14, 2.9)
    clip = make_clip(
        media_dir / "vfr.mp4", ClipSpec(duration_s=3.0, frame_times_s=times, audio=False)
    )
    result = segment(clip, storage)
    meta = json.loads(storage.get_bytes(f"{PREFIX}/metadata.json"))
    assert meta["variable_frame_rate"] is True
    np.testing.assert_allclose(result.analysis_times_s, [0.0, 0.9, 2.1, 2.9], atol=1e-3)
    np.testing.assert_allclose(result.dense_times_s, times, atol=1e-3)


def test_audio_only_and_video_only(media_dir, storage, tmp_path):
    audio_only = make_clip(media_dir / "audio_only.m4a", ClipSpec(video=False, duration_s=2.0))
    result = segment(audio_only, storage)
    assert result.metadata["has_video"] is False and result.metadata["has_audio"] is True
    assert len(result.analysis_times_s) == 0
    video_only = make_clip(media_dir / "video_only.mp4", ClipSpec(audio=False))
    other = LocalStorage(tmp_path / "other")
    result = segment(video_only, other)
    assert result.metadata["has_audio"] is False and not other.exists(
        f"{PREFIX}/audio_model/index.json"
    )


def test_a_single_frame_video(media_dir, storage):
    clip = make_clip(media_dir / "one.mp4", ClipSpec(duration_s=0.04, audio=False))
    result = segment(clip, storage)
    assert result.metadata["decoded_frames"] == 1 and len(result.analysis_times_s) == 1


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", ErrorCode.INPUT_CORRUPT),
        (b"this is a text file, not a video\n" * 50, ErrorCode.INPUT_CORRUPT),
    ],
)
def test_unreadable_files_fail_with_a_code_and_leave_nothing(tmp_path, storage, content, code):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(DpError) as info:
        segment(path, storage)
    assert info.value.code is code and "bad.mp4" in info.value.message
    assert list(storage.list("frames_dir")) == []


def test_missing_file(tmp_path, storage):
    with pytest.raises(DpError) as info:
        segment(tmp_path / "nope.mp4", storage)
    assert info.value.code is ErrorCode.INPUT_NOT_FOUND


def _index_first(clip, target):
    """`clip` remuxed with its index (moov) before the media data, as `-movflags faststart`
    writes it: a player can read such a file from its start."""
    with (
        av.open(str(clip)) as source,
        av.open(str(target), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return target


def test_truncated_file_without_its_index_is_corrupt_and_stores_nothing(
    media_dir, storage, tmp_path
):
    clip = make_clip(media_dir / "full.mp4", ClipSpec(duration_s=4.0, audio=False))
    data = clip.read_bytes()
    assert data.find(b"moov") > len(data) // 2  # the index is at the end: cut off below
    cut = tmp_path / "truncated.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DpError) as info:
        segment(cut, storage)
    assert info.value.code is ErrorCode.INPUT_CORRUPT and "truncated.mp4" in info.value.message
    assert list(storage.list("frames_dir")) == []


def test_truncated_file_with_its_index_first_keeps_the_frames_that_are_there(
    media_dir, storage, tmp_path
):
    clip = make_clip(media_dir / "full.mp4", ClipSpec(duration_s=4.0, audio=False))
    data = _index_first(clip, tmp_path / "indexed.mp4").read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    cut = tmp_path / "truncated.mp4"
    cut.write_bytes(data[: len(data) // 2])
    result = segment(cut, storage)
    decoded = result.metadata["decoded_frames"]
    assert 35 <= decoded <= 60  # about half of the 100 frames (measured: 47), not all, not none
    frames, _, _ = video_frames(storage, "dense")  # what was decoded is stored and reads back
    assert len(frames) == result.metadata["frame_counts"]["dense"] == decoded


def test_huge_resolution_is_refused_before_decoding(media_dir, storage):
    clip = make_clip(
        media_dir / "big.mp4", ClipSpec(duration_s=0.2, width=640, height=480, audio=False)
    )
    data = load_profile("cpu_baseline").model_dump(mode="json")
    data["limits"]["max_pixels"] = 640 * 480 - 1
    with pytest.raises(DpError) as info:
        segment(clip, storage, parse_profile(data))
    assert info.value.code is ErrorCode.RESOURCE_EXHAUSTED and "640x480" in info.value.message
    assert list(storage.list("frames_dir")) == []


def test_real_sample_big_buck_bunny(sample_clips, storage):
    result = segment(sample_clips["bigbuckbunny"], storage)
    meta = result.metadata
    assert (meta["width"], meta["height"], meta["native_fps"]) == (1280, 720, 25.0)
    assert meta["decoded_frames"] == 132 and meta["frame_counts"]["dense"] == 132
    assert (meta["analysis_width"], meta["analysis_height"]) == (640, 360)
    assert meta["audio_channels"] == 6 and meta["audio_sample_rate"] == 48000
    assert meta["audio_channel_names"] == ["FL", "FR", "FC", "LFE", "BL", "BR"]
    native = audio(storage, "audio_native")
    assert native.shape[0] == 6 and native.shape[1] / 48000 == pytest.approx(5.3, abs=0.1)
    assert meta["duration_s"] == pytest.approx(5.31, abs=0.05)
