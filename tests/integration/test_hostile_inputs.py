"""Hostile uploads end quickly with an error code, never a hang or an OOM kill (the bounds
stated in docs/SECURITY.md "Limits on hostile input"). Each input is crafted here, small:
- a FIFO (a stream that never reaches EOF) and a link to /dev/zero;
- a self-referencing concat list (FFmpeg would recurse until it runs out of files) and an HLS
  playlist naming another local file (FFmpeg would read it);
- a tiny file with one 8192x8192 frame among 16x16 ones (a decompression bomb: 67 Mpx, 200 MB decoded,
  from a 200 KB file);
- a file declaring 1 s that decodes for 20 s (video and audio);
- 20,000 frames that all carry the same time (their decoded time never advances), and
  20,000 frames after a jump to 5.9 h (a timeline that advances without frames to match);
- audio declaring 64 channels at 192 kHz;
- a sidecar over 1 MiB, one nested 100,000 deep, and a video_id that is a path.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import time
import wave
import zlib
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from dp_assets.uploads import sidecar_record_fields
from dp_core.errors import DpError, ErrorCode
from dp_core.identity import video_key
from dp_core.sidecar import MAX_SIDECAR_BYTES
from dp_resources.media import decoder
from dp_resources.media.decoder import MAX_FRAME_RATE, DecodePlan, decode_once

pytestmark = pytest.mark.integration

# the profile defaults (dp_core/profile.py Limits): 7680 x 4320 pixels, 6 h
PLAN = DecodePlan(
    analysis_fps=2.0,
    analysis_max_width=640,
    analysis_max_height=640,
    dense_max_fps=25.0,
    dense_width=160,
    model_sample_rate=16000,
    max_pixels=7680 * 4320,
    max_duration_s=6 * 3600,
)
# every refusal below ends within this many seconds of wall-clock time (measured: < 1 s)
BOUND_S = 10.0


class Sink:
    """Keeps the size of every frame it gets and the audio sample count."""

    def __init__(self):
        self.sizes: set[tuple[int, int]] = set()
        self.frames = 0
        self.samples = 0

    def analysis_frame(self, frame, time_s, source_frame):
        self.sizes.add(frame.shape[:2])
        self.frames += 1

    def dense_frame(self, frame, time_s, source_frame):
        self.sizes.add(frame.shape[:2])

    def audio_format(self, sample_rate, channel_names):
        pass

    def model_audio(self, samples, start_s):
        pass

    def native_audio(self, samples, start_s):
        self.samples += samples.shape[1]


def refused(path: Path, plan: DecodePlan = PLAN) -> tuple[DpError, float]:
    """The DpError decoding `path` raises, and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(DpError) as caught:
        decode_once(path, plan, Sink())
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"{path.name} took {elapsed:.1f} s to be refused"
    return caught.value, elapsed


def png(width: int, height: int) -> bytes:
    """A black RGB PNG, compressed row by row (never held whole in memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + 3 * width)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def mux_packets(path: Path, fmt: str, codec: str, payloads: list[bytes], pts: list[int]) -> None:
    """A container whose one video stream holds `payloads` as packets, at `pts` (1/25 s)."""
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width = stream.height = 16
        stream.pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
        stream.time_base = Fraction(1, 25)
        for data, at in zip(payloads, pts, strict=True):
            packet = av.Packet(data)
            packet.stream, packet.time_base = stream, Fraction(1, 25)
            packet.pts = packet.dts = at
            container.mux(packet)


def declare_duration(path: Path, seconds: float) -> None:
    """Overwrite a Matroska file's Duration element (EBML id 0x4489, a float in ms)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89")
    assert at > 0 and data[at + 2] == 0x88, "no 8-byte Duration element"
    data[at + 3 : at + 11] = struct.pack(">d", seconds * 1000.0)
    path.write_bytes(bytes(data))


def test_a_stream_that_never_ends_is_refused_at_once(tmp_path):
    fifo = tmp_path / "upload.mp4"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes, forever
    error, _ = refused(fifo)
    assert error.code is ErrorCode.INPUT_UNSUPPORTED
    endless = tmp_path / "zeros.mp4"
    endless.symlink_to("/dev/zero")
    assert refused(endless)[0].code is ErrorCode.INPUT_UNSUPPORTED


def test_playlists_and_lists_of_other_files_are_refused(tmp_path):
    loop = tmp_path / "loop.mp4"
    loop.write_text("ffconcat version 1.0\nfile loop.mp4\n")  # opens itself, recursively
    error, _ = refused(loop)
    assert error.code is ErrorCode.INPUT_UNSUPPORTED, error
    # an HLS playlist naming another local file: FFmpeg alone would open and decode it (a
    # file named directly, `dp process upload.m3u8`, is taken whatever its suffix)
    other = tmp_path / "someone-elses.mkv"
    mux_packets(other, "matroska", "mjpeg", [jpeg()], [0])
    playlist = tmp_path / "upload.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{other.name}\n#EXT-X-ENDLIST\n"
    )
    assert refused(playlist)[0].code is ErrorCode.INPUT_UNSUPPORTED


def test_a_frame_over_the_pixel_limit_is_never_decoded(tmp_path):
    bomb = tmp_path / "bomb.mov"
    sizes = [(16, 16)] * 10 + [(8192, 8192)] + [(16, 16)] * 10
    mux_packets(bomb, "mov", "png", [png(w, h) for w, h in sizes], list(range(len(sizes))))
    assert bomb.stat().st_size < 300_000  # 200 MB of pixels once decoded
    sink = Sink()
    started = time.monotonic()
    report = decode_once(bomb, PLAN, sink)
    assert time.monotonic() - started < BOUND_S
    # the 8192x8192 frame was refused by the decoder before it was allocated; the others pass
    assert 10 <= report.decoded_frames < len(sizes)
    assert all(h * w <= 16 * 16 for h, w in sink.sizes)
    assert any("pixel limit" in w for w in report.warnings), report.warnings
    # declared over the limit: refused before any frame is decoded
    declared = tmp_path / "declared.mov"
    mux_packets(declared, "mov", "png", [png(16, 16)], [0])
    small = DecodePlan(**{**PLAN.__dict__, "max_pixels": 16 * 16 - 1})
    assert refused(declared, small)[0].code is ErrorCode.RESOURCE_EXHAUSTED


def jpeg() -> bytes:
    """One 16x16 black MJPEG frame."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width = codec.height = 16
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    black = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
    return bytes(codec.encode(black.reformat(format="yuvj420p"))[0])


def long_video(path: Path, seconds: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 32
        stream.options = {"preset": "ultrafast"}
        black = np.zeros((32, 32, 3), np.uint8)
        for index in range(seconds * 25):
            frame = av.VideoFrame.from_ndarray(black, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def long_audio(path: Path, seconds: int) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000, layout="mono")
        silence = np.zeros((1, 1024), np.float32)
        for index in range(seconds * 8000 // 1024):
            frame = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, index * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.mark.parametrize("make", [long_video, long_audio], ids=["video", "audio"])
def test_a_file_that_decodes_longer_than_it_declares_stops_at_the_limit(make, tmp_path):
    lying = tmp_path / "lying.mkv"
    make(lying, 20)
    declare_duration(lying, 1.0)
    with av.open(str(lying)) as container:
        assert container.duration / 1e6 == pytest.approx(1.0)  # the lie is what FFmpeg reads
    short = DecodePlan(**{**PLAN.__dict__, "max_duration_s": 3.0})
    error, _ = refused(lying, short)
    assert error.code is ErrorCode.RESOURCE_EXHAUSTED
    assert "decoded past 3 s" in error.message


@pytest.fixture(scope="module")
def frozen_time(tmp_path_factory) -> Path:
    """20,000 frames, all at time 0: 4 MB whose decoded time never advances."""
    path = tmp_path_factory.mktemp("frozen") / "frozen.mkv"
    frame = jpeg()
    mux_packets(path, "matroska", "mjpeg", [frame] * 20_000, [0] * 20_000)
    return path


@pytest.fixture(scope="module")
def jumped_time(tmp_path_factory) -> Path:
    """One frame at 0, then 20,000 at 5.9 h: the timestamps claim 5.9 h of progress."""
    path = tmp_path_factory.mktemp("jumped") / "jumped.mkv"
    jump = int(5.9 * 3600 * 25)
    mux_packets(path, "matroska", "mjpeg", [jpeg()] * 20_001, [0] + [jump] * 20_000)
    return path


def test_frames_whose_time_never_advances_hit_the_frame_cap(frozen_time):
    plan = DecodePlan(**{**PLAN.__dict__, "max_duration_s": 10.0})
    error, _ = refused(frozen_time, plan)
    assert error.code is ErrorCode.RESOURCE_EXHAUSTED
    assert f"over {int(10 * MAX_FRAME_RATE) + 1} video frames" in error.message


def test_a_stream_making_no_progress_is_stopped_by_the_time_budget(frozen_time):
    # a frame cap far away (6 h): the wall-clock budget ends it (stall_s, the 120 s default
    # scaled down for the test; the per-media-second credit too: the decoder spaces equal
    # timestamps 1 us apart, so 20,000 frames earn 0.02 s of media, 0.6 s at 30 s each —
    # as long as the whole file takes on a quiet machine)
    plan = DecodePlan(**{**PLAN.__dict__, "stall_s": 0.05, "wall_s_per_media_s": 0.5})
    error, elapsed = refused(frozen_time, plan)
    assert error.code is ErrorCode.RESOURCE_EXHAUSTED
    assert "does not advance" in error.message
    assert elapsed < 0.05 + 2.0


def test_a_jump_in_the_timestamps_earns_no_time_budget(jumped_time, monkeypatch):
    # The decoder's clock is simulated: each reading (one per packet) is 0.1 ms later, so the
    # 20,001 packets "take" 2 s whatever the machine's load. The budget is 0.05 s + 0.5 ms per
    # media second: crediting the jump (5.9 h) would allow 10.6 s and nothing would stop the
    # file; crediting frames (1/25 s each) allows 0.05 s + 20 us per frame, passed after ~625.
    readings = itertools.count()
    clock = SimpleNamespace(monotonic=lambda: next(readings) * 1e-4)
    monkeypatch.setattr(decoder, "time", clock)
    plan = DecodePlan(**{**PLAN.__dict__, "stall_s": 0.05, "wall_s_per_media_s": 0.0005})
    error, _ = refused(jumped_time, plan)
    assert error.code is ErrorCode.RESOURCE_EXHAUSTED
    assert "does not advance" in error.message
    assert next(readings) < 2_000  # stopped within the first frames, not at the file's end


def test_audio_over_the_sample_budget_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.wav"
    with wave.open(str(bomb), "wb") as out:
        out.setnchannels(64)
        out.setsampwidth(2)
        out.setframerate(192_000)
        out.writeframes(b"\0" * 64 * 2 * 100)
    error, _ = refused(bomb)
    assert error.code is ErrorCode.RESOURCE_EXHAUSTED
    assert "64 channels at 192000 Hz" in error.message


def test_hostile_sidecars_are_refused_with_a_code_and_ids_cannot_escape():
    huge = json.dumps({"video_id": "v1", "description": "x" * MAX_SIDECAR_BYTES}).encode()
    fields, sidecar = sidecar_record_fields(huge, "huge.json")
    assert fields["sidecar_error_code"] == ErrorCode.RESOURCE_EXHAUSTED.value
    assert sidecar.video_id is None  # nothing of it is used: the id comes from the file name
    deep = b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    fields, _ = sidecar_record_fields(deep, "deep.json")
    assert fields["sidecar_error_code"] == ErrorCode.INPUT_CORRUPT.value
    for hostile in ("../../etc/passwd", "/abs/path", "a/../../b", "..", "x\\..\\y", "a__b"):
        key = video_key("youtube", hostile).partition_key
        platform, _, slug = key.partition("__")
        assert platform == "youtube" and "/" not in slug and "\\" not in slug
        assert ".." not in slug and "__" not in slug and not slug.startswith("-")
