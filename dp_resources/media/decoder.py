"""One decode pass over a video file with PyAV, feeding every stream the platform needs.

Video and audio packets are demuxed together once; each decoded frame is scaled for the
sinks that want it and dropped, so memory does not grow with the video's length.

Uploaded files are hostile input (docs/SECURITY.md). What bounds one decode pass:
- only regular files, opened with the `file` protocol only and one of the media container
  formats of `ALLOWED_FORMATS` (no playlists, concat lists or other files that make FFmpeg
  open further files or URLs);
- declared size and duration within the plan's `max_pixels` / `max_duration_s`, and the same
  limits on what is really decoded: every frame's size (the decoder itself refuses a larger
  frame before allocating it), the decoded time of video and audio, at most
  `max_duration_s * MAX_FRAME_RATE` video frames;
- audio of at most `MAX_AUDIO_RATE` Hz and `MAX_AUDIO_SAMPLES_PER_S` samples per second over
  all channels (the native audio sink buffers a chunk of them);
- progress: decoding stops once its wall-clock time passes `stall_s + wall_s_per_media_s *
  (media seconds decoded)`, checked after every packet (a stream whose time never advances,
  or jumps: a video frame earns at most one native frame interval, audio its samples).
Each refusal is a DpError: INPUT_UNSUPPORTED (not a media file we open) or RESOURCE_EXHAUSTED
(over a limit).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import av
import av.error
import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_features.video.sampling import (
    TimeSampler,
    fit_inside,
    rotate_upright,
    scale_to_width,
)
from dp_resources.media.plane_scaling import plane_scalable, scale_planes_to_rgb

MAX_DECODE_ERRORS = 50
# demuxers an upload may be opened with (FFmpeg names; "mov" is also mp4/m4a/3gp, "matroska"
# also webm, "ogg" also opus): media containers that read only the file itself
ALLOWED_FORMATS = (
    "mov",
    "matroska",
    "avi",
    "mpegts",
    "mpeg",
    "flv",
    "asf",
    "ogg",
    "wav",
    "aiff",
    "mp3",
    "aac",
    "flac",
)
OPEN_OPTIONS = {"format_whitelist": ",".join(ALLOWED_FORMATS), "protocol_whitelist": "file"}
MAX_FRAME_RATE = 240.0  # decoded video frames per second of allowed duration, at most
MAX_AUDIO_RATE = 192_000  # Hz
MAX_AUDIO_SAMPLES_PER_S = 768_000  # over all channels: 8 channels at 96 kHz, 16 at 48 kHz
DURATION_SLACK_S = 1.0  # decoded time may pass max_duration_s by this much (last frame)


@dataclass(frozen=True)
class DecodePlan:
    analysis_fps: float
    analysis_max_width: int
    analysis_max_height: int
    dense_max_fps: float
    dense_width: int
    model_sample_rate: int
    max_pixels: int
    max_duration_s: float
    # progress bound: decoding stops when its wall-clock seconds pass
    # stall_s + wall_s_per_media_s * (media seconds decoded so far)
    stall_s: float = 120.0
    wall_s_per_media_s: float = 30.0


class DecodeSink(Protocol):
    def analysis_frame(self, frame: np.ndarray, time_s: float, source_frame: int) -> None: ...
    def dense_frame(self, frame: np.ndarray, time_s: float, source_frame: int) -> None: ...
    def audio_format(self, sample_rate: int, channel_names: list[str]) -> None: ...
    # audio: float32 [C, n] blocks in order; `start_s` is the time of the stream's first sample
    def model_audio(self, samples: np.ndarray, start_s: float) -> None: ...
    def native_audio(self, samples: np.ndarray, start_s: float) -> None: ...


@dataclass
class DecodeReport:
    """What the pass found: the facts `metadata.json` is built from. Sizes are upright."""

    container_format: str
    container_duration_s: float | None
    has_video: bool
    has_audio: bool
    video_codec: str | None = None
    native_fps: float | None = None
    width: int | None = None
    height: int | None = None
    coded_width: int | None = None
    coded_height: int | None = None
    rotation: int = 0
    pixel_format: str | None = None
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_layout: str | None = None
    audio_channel_names: list[str] = field(default_factory=list)
    decoded_frames: int = 0
    first_frame_s: float | None = None
    last_frame_s: float | None = None
    audio_end_s: float | None = None
    variable_frame_rate: bool = False
    analysis_size: tuple[int, int] | None = None
    dense_size: tuple[int, int] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Container duration when known, else what was decoded."""
        if self.container_duration_s:
            return self.container_duration_s
        ends = [0.0]
        if self.last_frame_s is not None:
            ends.append(self.last_frame_s + 1.0 / (self.native_fps or 25.0))
        if self.audio_end_s is not None:
            ends.append(self.audio_end_s)
        return max(ends)


def open_container(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise DpError(ErrorCode.INPUT_NOT_FOUND, f"{path.name}: file not found")
    if path.is_dir():
        raise DpError(ErrorCode.INPUT_UNSUPPORTED, f"{path.name}: is a folder, not a video file")
    mode = path.stat().st_mode  # after symlinks: a link to /dev/zero is a device
    if not stat.S_ISREG(mode):
        # a FIFO, socket or device never ends (or blocks the open): only regular files
        raise DpError(
            ErrorCode.INPUT_UNSUPPORTED, f"{path.name}: not a regular file (FIFO, device...)"
        )
    if path.stat().st_size == 0:
        raise DpError(ErrorCode.INPUT_CORRUPT, f"{path.name}: file is empty (0 bytes)")
    try:
        return av.open(os.fspath(path), mode="r", container_options=OPEN_OPTIONS)
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__  # no absolute path
        if exc.errno == errno.EINVAL:  # what FFmpeg answers for a demuxer off the whitelist
            raise DpError(
                ErrorCode.INPUT_UNSUPPORTED,
                f"{path.name}: not one of the media container formats the platform opens "
                f"({', '.join(ALLOWED_FORMATS)}): playlists and lists of other files are refused",
            ) from exc
        raise DpError(
            ErrorCode.INPUT_CORRUPT, f"{path.name}: not a readable media file ({reason})"
        ) from exc


def decode_once(path: Path, plan: DecodePlan, sink: DecodeSink) -> DecodeReport:
    """Decode `path` once, calling `sink` for analysis/dense frames and both audio forms."""
    with open_container(path) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise DpError(ErrorCode.INPUT_UNSUPPORTED, f"{path.name}: has no video or audio stream")
        report = DecodeReport(
            container_format=container.format.name,
            container_duration_s=container.duration / 1e6 if container.duration else None,
            has_video=video is not None,
            has_audio=audio is not None,
        )
        _check_limits(path, plan, report, video, audio)
        origin_s = container.start_time / 1e6 if container.start_time else 0.0
        video_pass = _VideoPass(plan, sink, report, video, path.name) if video else None
        audio_pass = _AudioPass(plan, sink, report, audio) if audio else None
        streams = [s for s in (video, audio) if s is not None]
        budget = _Budget(path, plan, report)
        errors = 0
        for packet in container.demux(*streams):
            budget.check(audio_pass.native_samples if audio_pass else 0)
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                errors += 1
                if errors > MAX_DECODE_ERRORS:
                    raise DpError(
                        ErrorCode.INPUT_CORRUPT,
                        f"{path.name}: over {MAX_DECODE_ERRORS} decode errors (last: {exc})",
                    ) from exc
                continue
            for frame in frames:
                if video_pass and packet.stream is video:
                    video_pass.frame(frame, origin_s)
                elif audio_pass:
                    audio_pass.frame(frame, origin_s)
        if audio_pass:
            audio_pass.flush()
        if video_pass:
            video_pass.finish()
        if errors:
            report.warnings.append(
                f"{errors} packets could not be decoded (corrupt, or a frame over the "
                f"{plan.max_pixels}-pixel limit) and were skipped"
            )
    _check_complete(path, report)
    return report


def _check_limits(path: Path, plan: DecodePlan, report: DecodeReport, video, audio) -> None:
    if video is not None:
        _check_pixels(path.name, plan, video.codec_context.width, video.codec_context.height)
        # the decoder refuses any later frame over the limit before allocating it
        video.codec_context.options = {"max_pixels": str(plan.max_pixels)}
    if audio is not None:
        rate, channels = audio.codec_context.sample_rate or 0, audio.codec_context.channels or 0
        if rate > MAX_AUDIO_RATE or rate * channels > MAX_AUDIO_SAMPLES_PER_S:
            raise DpError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"{path.name}: audio of {channels} channels at {rate} Hz is over the limit of "
                f"{MAX_AUDIO_RATE} Hz and {MAX_AUDIO_SAMPLES_PER_S} samples/s",
            )
    if report.container_duration_s and report.container_duration_s > plan.max_duration_s:
        raise DpError(
            ErrorCode.RESOURCE_EXHAUSTED,
            f"{path.name}: {report.container_duration_s:.0f} s is over the profile's limit of "
            f"{plan.max_duration_s:.0f} s",
        )


def _check_pixels(name: str, plan: DecodePlan, width: int | None, height: int | None) -> None:
    if (width or 0) * (height or 0) > plan.max_pixels:
        raise DpError(
            ErrorCode.RESOURCE_EXHAUSTED,
            f"{name}: {width}x{height} is over the profile's limit of {plan.max_pixels} "
            "pixels per frame",
        )


class _Budget:
    """What one pass may decode (see the module's docstring); `check` after every packet."""

    def __init__(self, path: Path, plan: DecodePlan, report: DecodeReport):
        self.path, self.plan, self.report = path, plan, report
        self.max_frames = int(plan.max_duration_s * MAX_FRAME_RATE) + 1
        self.max_media_s = plan.max_duration_s + DURATION_SLACK_S
        self.started = time.monotonic()

    def progress_s(self, audio_samples: int) -> float:
        """Media seconds decoded, as the wall-clock budget credits them: video by timestamps
        but at most one native frame interval (≤ 1 s) per frame (a jump in the timestamps earns
        no time), audio by samples."""
        report = self.report
        video_s = min(
            report.last_frame_s or 0.0, report.decoded_frames / max(report.native_fps or 25.0, 1.0)
        )
        audio_s = audio_samples / report.audio_sample_rate if report.audio_sample_rate else 0.0
        return max(video_s, audio_s)

    def check(self, audio_samples: int) -> None:
        report, name = self.report, self.path.name
        media_s = max(report.last_frame_s or 0.0, report.audio_end_s or 0.0)
        if media_s > self.max_media_s:
            raise DpError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"{name}: decoded past {self.plan.max_duration_s:.0f} s, the profile's limit "
                f"(the container announced {report.container_duration_s or 'no'} s)",
            )
        if report.decoded_frames > self.max_frames:
            raise DpError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"{name}: over {self.max_frames} video frames ({MAX_FRAME_RATE:.0f} per second "
                f"of the {self.plan.max_duration_s:.0f} s limit)",
            )
        elapsed = time.monotonic() - self.started
        progress_s = self.progress_s(audio_samples)
        allowed = self.plan.stall_s + self.plan.wall_s_per_media_s * progress_s
        if elapsed > allowed:
            raise DpError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"{name}: decoding took {elapsed:.1f} s for {progress_s:.1f} s of media (over "
                f"{self.plan.stall_s:.0f} s + {self.plan.wall_s_per_media_s:.0f} s per media "
                "second): a stream that does not advance",
            )


def _check_complete(path: Path, report: DecodeReport) -> None:
    if report.has_video and report.decoded_frames == 0:
        raise DpError(ErrorCode.INPUT_CORRUPT, f"{path.name}: no video frame could be decoded")
    expected = report.container_duration_s
    decoded = report.last_frame_s if report.has_video else report.audio_end_s
    if expected and decoded is not None and expected > 2.0 and decoded < 0.9 * expected - 1.0:
        report.warnings.append(
            f"decoded only {decoded:.1f} s of the {expected:.1f} s the container announces "
            "(truncated file?)"
        )


class _VideoPass:
    def __init__(self, plan: DecodePlan, sink: DecodeSink, report: DecodeReport, stream, name: str):
        stream.thread_type = "AUTO"  # frame threading: decode speed on multi-core machines
        self.plan, self.sink, self.report, self.stream = plan, sink, report, stream
        self.name = name
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        report.native_fps = float(rate) if rate else None
        report.video_codec = stream.codec_context.name
        report.pixel_format = (
            stream.codec_context.format.name if stream.codec_context.format else None
        )
        self.analysis = TimeSampler(plan.analysis_fps)
        dense_fps = plan.dense_max_fps
        if report.native_fps and report.native_fps <= plan.dense_max_fps * 1.01:
            dense_fps = None  # every native frame
        self.dense = TimeSampler(dense_fps)
        self.intervals: list[float] = []
        self.previous_s: float | None = None
        self.sizes: tuple[tuple[int, int], tuple[int, int]] | None = None

    def frame(self, frame: av.VideoFrame, origin_s: float) -> None:
        report = self.report
        index = report.decoded_frames
        if frame.time is not None:
            time_s = frame.time - origin_s
        else:
            time_s = index / (report.native_fps or 25.0)
        if self.previous_s is not None:
            if time_s <= self.previous_s:  # out-of-order / duplicate timestamp: keep monotonic
                time_s = self.previous_s + 1e-6
            if len(self.intervals) < 10_000:
                self.intervals.append(time_s - self.previous_s)
        if self.sizes is None:
            self._init_sizes(frame)
        elif (frame.width, frame.height) != (report.coded_width, report.coded_height):
            # a decoder that ignores its max_pixels option: still refused before scaling
            _check_pixels(self.name, self.plan, frame.width, frame.height)
        report.decoded_frames += 1
        report.first_frame_s = time_s if report.first_frame_s is None else report.first_frame_s
        report.last_frame_s = self.previous_s = time_s
        (aw, ah), (dw, dh) = self.sizes
        if self.analysis.take(time_s):
            self.sink.analysis_frame(self._scaled(frame, aw, ah), time_s, index)
        if self.dense.take(time_s):
            self.sink.dense_frame(self._scaled(frame, dw, dh), time_s, index)

    def _init_sizes(self, frame: av.VideoFrame) -> None:
        report, plan = self.report, self.plan
        report.rotation = int(frame.rotation or 0)
        report.coded_width, report.coded_height = frame.width, frame.height
        sideways = report.rotation % 180 != 0
        width, height = (frame.height, frame.width) if sideways else (frame.width, frame.height)
        report.width, report.height = width, height
        analysis = fit_inside(width, height, plan.analysis_max_width, plan.analysis_max_height)
        dense = scale_to_width(width, height, plan.dense_width)
        report.analysis_size, report.dense_size = analysis, dense
        # reformat works on the coded (un-rotated) frame: swap sides back before rotating
        self.sizes = tuple((h, w) if sideways else (w, h) for (w, h) in (analysis, dense))

    def _scaled(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
        # 8-bit 4:2:0 (nearly every file): area means on the planes, ~4x cheaper than
        # swscale's AREA, which filters at the source size (dp_resources/media/plane_scaling.py)
        if plane_scalable(frame):
            rgb = scale_planes_to_rgb(frame, width, height)
        else:
            rgb = frame.reformat(
                width=width, height=height, format="rgb24", interpolation="AREA"
            ).to_ndarray()
        return rotate_upright(rgb, self.report.rotation)

    def finish(self) -> None:
        if len(self.intervals) >= 3:
            intervals = np.asarray(self.intervals)
            median = float(np.median(intervals))
            spread = float(np.percentile(intervals, 95) - np.percentile(intervals, 5))
            self.report.variable_frame_rate = median > 0 and spread > 0.1 * median


class _AudioPass:
    def __init__(self, plan: DecodePlan, sink: DecodeSink, report: DecodeReport, stream):
        self.sink, self.report = sink, report
        layout = stream.codec_context.layout
        report.audio_codec = stream.codec_context.name
        report.audio_sample_rate = stream.codec_context.sample_rate
        report.audio_channels = stream.codec_context.channels
        report.audio_layout = layout.name if layout else None
        report.audio_channel_names = [c.name for c in layout.channels] if layout else []
        sink.audio_format(report.audio_sample_rate, report.audio_channel_names)
        self.model = av.AudioResampler(format="flt", layout="mono", rate=plan.model_sample_rate)
        # Loudness needs the original channels and rate: only the sample format changes.
        self.native = av.AudioResampler(
            format="fltp", layout=layout.name if layout else None, rate=report.audio_sample_rate
        )
        self.model_s: float | None = None
        self.native_s: float | None = None
        self.native_samples = 0

    def frame(self, frame: av.AudioFrame, origin_s: float) -> None:
        time_s = (frame.time - origin_s) if frame.time is not None else None
        self._emit(self.model.resample(frame), time_s, native=False)
        self._emit(self.native.resample(frame), time_s, native=True)

    def flush(self) -> None:
        self._emit(self.model.resample(None), None, native=False)
        self._emit(self.native.resample(None), None, native=True)
        if self.native_samples and self.report.audio_sample_rate:
            start = self.native_s or 0.0
            self.report.audio_end_s = start + self.native_samples / self.report.audio_sample_rate

    def _emit(self, frames: list[av.AudioFrame], time_s: float | None, native: bool) -> None:
        for out in frames:
            samples = out.to_ndarray().astype(np.float32, copy=False)
            if samples.ndim == 1:
                samples = samples[np.newaxis, :]
            if native:
                if self.native_s is None:
                    self.native_s = max(0.0, time_s or 0.0)
                self.native_samples += samples.shape[1]
                if self.report.audio_sample_rate:  # decoded so far (the pass's time budget)
                    self.report.audio_end_s = (
                        self.native_s + self.native_samples / self.report.audio_sample_rate
                    )
                self.sink.native_audio(samples, self.native_s)
            else:
                if self.model_s is None:
                    self.model_s = max(0.0, time_s or 0.0)
                self.sink.model_audio(samples, self.model_s)
