"""SYNTHETIC popularity data with a planted signal, for tests and the sample that
`dp dataset sample` (run by scripts/setup.sh) writes: contract-valid artifacts + manifests
in a storage folder, and crawl snapshots whose counts follow a growth curve.

Truth, views at age H = 7 days (log1p, before noise):
    7 + channel effect + 1.2 z(cuts per minute) + 1.0 z(speech ratio)
      - 0.9 |integrated LUFS + 14| / 4 + N(0, 0.3)
Views at age a: V_H (1 - exp(-a / tau)) / (1 - exp(-H / tau)), tau = exp(0.2 + 0.4
z(speech) + N(0, 0.4)) days: speech-heavy videos grow slower, so the day-1 count alone
does not fix the day-7 count. Likes = views x exp(-3.5 + 0.4 z(speech) + N(0, 0.2));
every 53rd video hides its likes (empty). Crawls: daily from a random hour in the first
day, 12 per video. Channel statistics on each snapshot: the channel's other videos'
typical views plus the video's own count (so "without the video" is recoverable).
Nothing here is real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from dp_core.artifact import Artifact, ArtifactMeta, ModelUsed, encode_artifact
from dp_core.identity import video_key
from dp_core.manifest import ComponentRecord, Manifest, RunSection, VideoSection
from dp_core.storage_keys import artifact_key, manifest_key

EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
HORIZON_DAYS = 7.0
COMPONENTS = ("segmenter", "cut_detection", "loudness_extractor", "speech_activity")
LABEL = "SYNTHETIC popularity sample (dp dataset sample): generated, not real data"


@dataclass
class SyntheticVideo:
    video_id: str
    channel_id: str
    published_at: datetime
    duration_s: float
    cut_times_s: np.ndarray
    integrated_lufs: float
    speech_ratio: float
    views: int  # at age H
    likes: float  # at age H; NaN when hidden
    tau_days: float
    crawl_phase_days: float
    channel_typical_views: float = 0.0
    speech_error: bool = False


def synthetic_videos(count: int = 300, channels: int = 30, seed: int = 7) -> list[SyntheticVideo]:
    rng = np.random.default_rng(seed)
    channel_effect = rng.normal(0.0, 0.8, channels)
    channel_start_days = np.sort(rng.uniform(0, 600, channels))
    cuts_per_minute = rng.uniform(2, 30, count)
    speech = rng.uniform(0.0, 1.0, count)
    lufs = rng.uniform(-30, -8, count)
    z_cuts = (cuts_per_minute - cuts_per_minute.mean()) / cuts_per_minute.std()
    z_speech = (speech - speech.mean()) / speech.std()
    videos = []
    for i in range(count):
        channel = i % channels
        offset = channel_start_days[channel] + rng.uniform(0, 60) + rng.integers(0, 24) / 24
        duration = float(rng.uniform(30, 300))
        cut_count = max(1, round(cuts_per_minute[i] * duration / 60))
        log_views = (
            7.0
            + channel_effect[channel]
            + 1.2 * z_cuts[i]
            + 1.0 * z_speech[i]
            - 0.9 * abs(lufs[i] + 14) / 4
            + rng.normal(0, 0.3)
        )
        views = int(np.expm1(max(log_views, 1.0)))
        likes = float(int(views * np.exp(-3.5 + 0.4 * z_speech[i] + rng.normal(0, 0.2))))
        videos.append(
            SyntheticVideo(
                video_id=f"vid{i:04d}",
                channel_id=f"chan{channel:02d}",
                published_at=EPOCH + timedelta(minutes=round(float(offset) * 1440)),
                duration_s=duration,
                cut_times_s=np.sort(rng.uniform(0.5, duration - 0.5, cut_count)),
                integrated_lufs=float(lufs[i]),
                speech_ratio=float(speech[i]),
                views=views,
                likes=float("nan") if i % 53 == 11 else likes,
                tau_days=float(np.exp(0.2 + 0.4 * z_speech[i] + rng.normal(0, 0.4))),
                crawl_phase_days=round(float(rng.uniform(0.05, 0.95)) * 1440) / 1440,
                speech_error=(i % 97 == 5),  # a few failed optional components
            )
        )
    for channel in {v.channel_id for v in videos}:
        mine = [v for v in videos if v.channel_id == channel]
        typical = float(np.mean([v.views for v in mine]))
        for video in mine:
            video.channel_typical_views = typical
    return videos


def _arrays(video: SyntheticVideo, component: str) -> dict[str, np.ndarray]:
    if component == "segmenter":
        return {
            "analysis_times_s": np.arange(0, video.duration_s, 0.5),
            "dense_times_s": np.arange(0, video.duration_s, 0.04),
            "duration_s": np.float64(video.duration_s),
        }
    if component == "cut_detection":
        edges = np.concatenate([[0.0], video.cut_times_s, [video.duration_s]])
        return {
            "cut_times_s": video.cut_times_s,
            "cut_kinds": np.array(["hard"] * len(video.cut_times_s)),
            "cut_confidence": np.full(len(video.cut_times_s), 0.9, np.float32),
            "transition_span_s": np.zeros((0, 2)),
            "shot_bounds_s": np.stack([edges[:-1], edges[1:]], axis=1),
        }
    if component == "loudness_extractor":
        return {
            "integrated_lufs": np.float64(video.integrated_lufs),
            "loudness_range_lu": np.float64(6.0),
            "true_peak_dbtp": np.float64(-1.0),
            "short_term_lufs": np.full(10, video.integrated_lufs, np.float32),
            "short_term_times_s": np.arange(10, dtype=np.float64),
        }
    end = video.speech_ratio * video.duration_s
    return {
        "speech_segments_s": np.array([[0.0, end]]) if end > 0 else np.zeros((0, 2)),
        "speech_ratio": np.float64(video.speech_ratio),
    }


STAND_IN_MODEL = ModelUsed(
    name="stand-in",
    version="0",
    weights_digest="0" * 64,
    engine="onnxruntime",
    precision="fp32",
    device="cpu",
    stand_in=True,
)


REAL_CLIP_MODEL = STAND_IN_MODEL.model_copy(
    update={"name": "clip-vit-b32", "weights_digest": "1" * 64, "stand_in": False}
)


def _models(component: str, stand_in: tuple[str, ...]) -> list[ModelUsed]:
    if component in stand_in:
        return [STAND_IN_MODEL]
    return [REAL_CLIP_MODEL] if component == "core_clip" else []


def write_run(
    storage,
    video: SyntheticVideo,
    run_id: str,
    finished_at: datetime,
    config_hash: str = "synthetic",
    stand_in: tuple[str, ...] = (),
    clip_embeddings: np.ndarray | None = None,
) -> Manifest:
    """Artifacts + a finished manifest for one video, as the pipeline would write them;
    the components in `stand_in` name a stand-in model in their meta. With
    `clip_embeddings` (frames x dim) a `core_clip` artifact is written too, from a real
    model unless "core_clip" is in `stand_in`."""
    key = video_key("youtube", video.video_id).partition_key
    records = []
    components = COMPONENTS if clip_embeddings is None else (*COMPONENTS, "core_clip")
    for component in components:
        error = component == "speech_activity" and video.speech_error
        meta = ArtifactMeta(
            component=component,
            component_version="1",
            dataprocessor_version="0.1.0",
            run_id=run_id,
            platform="youtube",
            video_id=video.video_id,
            status="error" if error else "ok",
            error_code="MODEL_UNAVAILABLE" if error else None,
            config_hash=config_hash,
            analysis_fps=2.0,
            analysis_width=640,
            analysis_height=360,
            models_used=_models(component, stand_in),
        )
        arrays = (
            {"embeddings": np.asarray(clip_embeddings, np.float32)}
            if component == "core_clip"
            else ({} if error else _arrays(video, component))
        )
        storage.put_bytes(
            artifact_key(key, run_id, component), encode_artifact(Artifact(meta, arrays))
        )
        records.append(
            ComponentRecord(
                name=component,
                required=component != "speech_activity",
                status="error" if error else "success",
                error_code="MODEL_UNAVAILABLE" if error else None,
                artifact_key=artifact_key(key, run_id, component),
            )
        )
    manifest = Manifest(
        run=RunSection(
            run_id=run_id,
            dataprocessor_version="0.1.0",
            profile="synthetic",
            config_hash=config_hash,
            analysis={"fps": 2.0},
            resolved_model_mapping={},
            storage={"kind": "local"},
            started_at=(finished_at - timedelta(minutes=1)).isoformat(),
            finished_at=finished_at.isoformat(),
            dagster_run_status="SUCCESS",
            status="success",
        ),
        video=VideoSection(platform="youtube", video_id=video.video_id, partition_key=key),
        components=records,
    )
    storage.put_bytes(manifest_key(key, run_id), manifest.model_dump_json(indent=1).encode())
    return manifest


def write_result_store(storage, videos: list[SyntheticVideo]) -> None:
    finished = datetime(2025, 6, 1, tzinfo=UTC)
    for video in videos:
        write_run(storage, video, "run-synthetic", finished)


def views_at(video: SyntheticVideo, age_days: np.ndarray) -> np.ndarray:
    tau = video.tau_days
    shape = (1 - np.exp(-np.asarray(age_days) / tau)) / (1 - np.exp(-HORIZON_DAYS / tau))
    return video.views * shape


def snapshot_frame(videos: list[SyntheticVideo], crawls: int = 12) -> pd.DataFrame:
    """Daily crawl snapshots per video from its crawl phase (age < 1 day) on."""
    rows = []
    for video in videos:
        ages = video.crawl_phase_days + np.arange(crawls, dtype=np.float64)
        views = np.floor(views_at(video, ages))
        likes = np.floor(views * video.likes / video.views) if video.views else views * 0
        for age, count, like in zip(ages, views, likes, strict=True):
            rows.append(
                {
                    "video_id": video.video_id,
                    "channel_id": video.channel_id,
                    "published_at": video.published_at.isoformat(),
                    "snapshot_time": (video.published_at + timedelta(days=float(age))).isoformat(),
                    "views": int(count),
                    "likes": float(like),  # NaN when the video hides its likes
                    "channel_subscribers": round(video.channel_typical_views * 3),
                    "channel_view_count": round(video.channel_typical_views * 19 + count),
                    "channel_video_count": 20,
                }
            )
    frame = pd.DataFrame(rows)
    frame["likes"] = frame["likes"].astype("Int64")  # empty cells for hidden likes
    return frame


def write_snapshots(folder: Path, videos: list[SyntheticVideo]) -> Path:
    """A Hugging Face-style snapshot folder: data/train-00000-of-00001.parquet."""
    path = folder / "data" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot_frame(videos).to_parquet(path, index=False)
    return folder


def write_sample(
    folder: Path, open_store, count: int = 300, channels: int = 30, seed: int = 7
) -> dict[str, Path]:
    """The shipped sample: `store/` (result store) + `snapshots.csv` + `SYNTHETIC.txt`.
    `open_store(path)` gives the storage to write the store through (this layer does no
    storage I/O of its own: dp_resources.storage.backends.LocalStorage)."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = synthetic_videos(count, channels, seed)
    write_result_store(open_store(folder / "store"), videos)
    snapshots = folder / "snapshots.csv"
    snapshot_frame(videos).to_csv(snapshots, index=False)
    (folder / "SYNTHETIC.txt").write_text(LABEL + "\n")
    return {"store": folder / "store", "snapshots": snapshots}
