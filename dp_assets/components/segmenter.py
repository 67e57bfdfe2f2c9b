"""`segmenter`: one PyAV decode pass per video, every stream under its frames_dir."""

from __future__ import annotations

import base64

import numpy as np
from dagster import MetadataValue

from dp_assets.components import analysis_readers
from dp_assets.step_api import ComponentOutput, PerVideo, StepContext, VideoInput
from dp_assets.uploads import UploadRecord, local_source
from dp_core.component_spec import ComponentSpec
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_core.storage_keys import frames_prefix
from dp_features.video.sampling import SEGMENTER_FEATURES
from dp_resources.media.segmentation import segment_video


def segment_step(step: StepContext) -> PerVideo:
    readers = analysis_readers(step.profile)

    def segment(video: VideoInput) -> ComponentOutput:
        prefix = frames_prefix(video.partition_key, step.run_id)
        with local_source(video.upload, step.storage) as source:
            source_sha256 = sha256_file(source)
            _check_planned_content(video.upload, source_sha256)
            result = segment_video(source, step.storage, prefix, step.profile, readers)
        meta = result.metadata
        display = {
            "duration_s": meta["duration_s"],
            "size": f"{meta['width']}x{meta['height']}" if meta["has_video"] else "audio only",
            "native_fps": meta["native_fps"] or 0.0,
            "rotation": meta["rotation"],
            "has_audio": meta["has_audio"],
            "frame_counts": MetadataValue.json(meta["frame_counts"]),
            "frames_dir": prefix,
            "source": video.upload.source_name,
            "source_sha256": source_sha256,
        }
        if result.thumbnail_jpeg:
            encoded = base64.b64encode(result.thumbnail_jpeg).decode()
            display["thumbnail"] = MetadataValue.md(
                f"![thumbnail](data:image/jpeg;base64,{encoded})"
            )
        return ComponentOutput(
            status="ok",
            arrays={
                "analysis_times_s": result.analysis_times_s,
                "dense_times_s": result.dense_times_s,
                "duration_s": np.float64(meta["duration_s"]),
            },
            # a sidecar field that was refused is said here, in the video's manifest
            warnings=[*result.warnings, *video.upload.sidecar_problems],
            meta={
                "frames_prefix": prefix,
                "source_sha256": source_sha256,
                "frames_digests": result.digests,
                "video_metadata": meta,
                "analysis_fps": meta["analysis_fps"],
                "analysis_width": meta["analysis_width"],
                "analysis_height": meta["analysis_height"],
            },
            display=display,
        )

    return segment


def _check_planned_content(upload: UploadRecord, source_sha256: str) -> None:
    """A local file must still hold the bytes it was registered (and planned) with: a file
    replaced after registration is never decoded under the old record's name."""
    planned = upload.source_digest
    if planned.startswith("sha256:") and planned != f"sha256:{source_sha256}":
        raise DpError(
            ErrorCode.INPUT_CORRUPT,
            f"{upload.source_name} changed after it was registered: its sha256 is "
            f"{source_sha256[:12]}…, the run planned {planned[7:19]}…; process it again",
        )


SPEC = ComponentSpec(
    name="segmenter",
    parallel_videos=True,
    group="segmenter",
    description="One PyAV decode pass: analysis frames, a dense low-res stream, 16 kHz mono "
    "and original audio, metadata.json and per-component frame budgets under frames_dir.",
    step=segment_step,
    arrays=("analysis_times_s", "dense_times_s", "duration_s"),
    features=SEGMENTER_FEATURES,
    kinds=frozenset({"pyav"}),
)
