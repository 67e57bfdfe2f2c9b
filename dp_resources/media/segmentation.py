"""The segmenter's work for one video: one decode pass, streams written under frames_dir.

Writes (keys relative to the video's frames_dir prefix for this run):
    analysis/…  dense/…  audio_model/…  audio_native/…   chunked streams (frame_store)
    frame_budgets.json   per-component analysis-frame indices and times
    thumbnail.jpg
    metadata.json        written LAST: its presence means the frames_dir is complete
On failure everything already written under the prefix is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dp_core.hashing import sha256_bytes
from dp_core.profile import Profile
from dp_features.video.sampling import budget_indices
from dp_resources.media.decoder import DecodePlan, DecodeReport, decode_once
from dp_resources.storage.backends import Storage
from dp_resources.storage.frame_store import AudioStreamWriter, VideoStreamWriter, encode_jpeg

ANALYSIS_JPEG_QUALITY = 95
DENSE_JPEG_QUALITY = 90
THUMBNAIL_WIDTH = 320


@dataclass
class Segmentation:
    metadata: dict
    analysis_times_s: np.ndarray
    dense_times_s: np.ndarray
    thumbnail_jpeg: bytes | None
    warnings: list[str]
    digests: dict[str, str]  # file under the prefix -> sha256 as written (readers verify)


class _StreamSink:
    """Routes decoded frames and audio into chunk writers; keeps the thumbnail candidate."""

    def __init__(self, storage: Storage, prefix: str, profile: Profile, thumbnail_at_s: float):
        chunk = profile.limits.frames_per_chunk
        self.analysis = VideoStreamWriter(
            storage, f"{prefix}/analysis", chunk, ANALYSIS_JPEG_QUALITY
        )
        self.dense = VideoStreamWriter(storage, f"{prefix}/dense", chunk * 4, DENSE_JPEG_QUALITY)
        self.storage, self.prefix, self.profile = storage, prefix, profile
        self.model_audio_writer: AudioStreamWriter | None = None
        self.native_audio_writer: AudioStreamWriter | None = None
        self.analysis_times: list[float] = []
        self.dense_times: list[float] = []
        self.thumbnail_at_s = thumbnail_at_s
        self.thumbnail: np.ndarray | None = None
        self.audio_channel_names: list[str] = []
        self.native_rate = 0

    def analysis_frame(self, frame: np.ndarray, time_s: float, source_frame: int) -> None:
        self.analysis.add(frame, time_s, source_frame)
        self.analysis_times.append(time_s)
        if self.thumbnail is None or time_s <= self.thumbnail_at_s:
            self.thumbnail = frame

    def dense_frame(self, frame: np.ndarray, time_s: float, source_frame: int) -> None:
        self.dense.add(frame, time_s, source_frame)
        self.dense_times.append(time_s)

    def audio_format(self, sample_rate: int, channel_names: list[str]) -> None:
        self.native_rate, self.audio_channel_names = sample_rate, channel_names

    def model_audio(self, samples: np.ndarray, start_s: float) -> None:
        if self.model_audio_writer is None:
            self.model_audio_writer = AudioStreamWriter(
                self.storage,
                f"{self.prefix}/audio_model",
                self.profile.audio.model_sample_rate,
                self.profile.audio.chunk_seconds,
                ["FC"],
            )
        self.model_audio_writer.add(samples, start_s)

    def native_audio(self, samples: np.ndarray, start_s: float) -> None:
        if self.native_audio_writer is None:
            self.native_audio_writer = AudioStreamWriter(
                self.storage,
                f"{self.prefix}/audio_native",
                self.native_rate,
                self.profile.audio.chunk_seconds,
                self.audio_channel_names,
            )
        self.native_audio_writer.add(samples, start_s)


def decode_plan(profile: Profile) -> DecodePlan:
    return DecodePlan(
        analysis_fps=profile.analysis.fps,
        analysis_max_width=profile.analysis.width,
        analysis_max_height=profile.analysis.height,
        dense_max_fps=profile.dense.max_fps,
        dense_width=profile.dense.width,
        model_sample_rate=profile.audio.model_sample_rate,
        max_pixels=profile.limits.max_pixels,
        max_duration_s=profile.limits.max_duration_s,
    )


def segment_video(
    source: Path,
    storage: Storage,
    prefix: str,
    profile: Profile,
    analysis_readers: Collection[str],
) -> Segmentation:
    """Decode `source` once into the streams under `prefix`; each of `analysis_readers` (the
    profile's components that read analysis frames) gets its own frame budget."""
    sink = _StreamSink(storage, prefix, profile, thumbnail_at_s=1.0)
    try:
        report = decode_once(source, decode_plan(profile), sink)
        indexes, digests = {}, {}
        for name, writer in (
            ("analysis", sink.analysis),
            ("dense", sink.dense),
            ("audio_model", sink.model_audio_writer),
            ("audio_native", sink.native_audio_writer),
        ):
            if writer is not None:
                indexes[name] = writer.close()
                digests[f"{name}/index.json"] = writer.index_sha256
        analysis_times = np.asarray(sink.analysis_times, dtype=np.float64)
        budgets = frame_budgets(profile, analysis_times, analysis_readers)
        digests["frame_budgets.json"] = _put(storage, prefix, "frame_budgets.json", budgets)
        thumbnail = None
        if sink.thumbnail is not None:
            thumbnail = _thumbnail_jpeg(sink.thumbnail)
            storage.put_bytes(f"{prefix}/thumbnail.jpg", thumbnail)
        metadata = build_metadata(report, profile, indexes, prefix)
        digests["metadata.json"] = _put(storage, prefix, "metadata.json", metadata)
    except BaseException:
        for key in storage.list(prefix):
            storage.delete(key)
        raise
    return Segmentation(
        metadata=metadata,
        analysis_times_s=analysis_times,
        dense_times_s=np.asarray(sink.dense_times, dtype=np.float64),
        thumbnail_jpeg=thumbnail,
        warnings=list(report.warnings),
        digests=digests,
    )


def _put(storage: Storage, prefix: str, name: str, value: dict) -> str:
    """Write `value` as JSON at `<prefix>/<name>`; returns the sha256 of the bytes."""
    data = json.dumps(value, indent=2).encode()
    storage.put_bytes(f"{prefix}/{name}", data)
    return sha256_bytes(data)


def frame_budgets(
    profile: Profile, analysis_times_s: np.ndarray, analysis_readers: Collection[str]
) -> dict:
    """Per component of `analysis_readers`: its own indices (and times) into the analysis
    frames, from its profile `frame_budget`."""
    budgets = {}
    for name in analysis_readers:
        budget = profile.components[name].frame_budget
        indices = budget_indices(
            analysis_times_s,
            max_frames=budget.max_frames if budget else None,
            fps=budget.fps if budget else None,
        )
        budgets[name] = {
            "indices": indices.tolist(),
            "times_s": analysis_times_s[indices].round(6).tolist(),
        }
    return budgets


def build_metadata(report: DecodeReport, profile: Profile, indexes: dict, prefix: str) -> dict:
    analysis_w, analysis_h = report.analysis_size or (0, 0)
    dense_w, dense_h = report.dense_size or (0, 0)
    return {
        "duration_s": round(report.duration_s, 6),
        "native_fps": report.native_fps,
        "width": report.width,
        "height": report.height,
        "rotation": report.rotation,
        "has_audio": report.has_audio,
        "has_video": report.has_video,
        "analysis_fps": profile.analysis.fps,
        "analysis_width": analysis_w,
        "analysis_height": analysis_h,
        "dense_fps": None
        if not indexes["dense"]["count"]
        else _rate(indexes["dense"]["count"], report),
        "dense_width": dense_w,
        "dense_height": dense_h,
        "coded_width": report.coded_width,
        "coded_height": report.coded_height,
        "container_format": report.container_format,
        "video_codec": report.video_codec,
        "pixel_format": report.pixel_format,
        "variable_frame_rate": report.variable_frame_rate,
        "decoded_frames": report.decoded_frames,
        "audio_codec": report.audio_codec,
        "audio_sample_rate": report.audio_sample_rate,
        "audio_channels": report.audio_channels,
        "audio_layout": report.audio_layout,
        "audio_channel_names": report.audio_channel_names,
        "model_sample_rate": profile.audio.model_sample_rate,
        "frame_counts": {
            name: index["count"] for name, index in indexes.items() if index["kind"] == "video"
        },
        "audio_samples": {
            name: index["samples"] for name, index in indexes.items() if index["kind"] == "audio"
        },
        "streams": {name: f"{prefix}/{name}" for name in indexes},
        "warnings": report.warnings,
    }


def _rate(count: int, report: DecodeReport) -> float:
    span = (report.last_frame_s or 0.0) - (report.first_frame_s or 0.0)
    return round((count - 1) / span, 3) if count > 1 and span > 0 else (report.native_fps or 0.0)


def _thumbnail_jpeg(frame: np.ndarray) -> bytes:
    image = Image.fromarray(frame)
    if image.width > THUMBNAIL_WIDTH:
        image = image.resize(
            (THUMBNAIL_WIDTH, max(2, round(image.height * THUMBNAIL_WIDTH / image.width)))
        )
    return encode_jpeg(np.asarray(image), quality=85)
