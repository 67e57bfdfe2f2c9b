"""The `segmenter` asset: one decode pass per video, streams under frames_dir."""

import base64

import numpy as np
from dagster import AssetExecutionContext, MetadataValue

from dp_assets.component_asset import component_asset
from dp_assets.component_step import ComponentOutput, VideoInput, run_component
from dp_assets.uploads import local_source, upload_spec
from dp_core.artifact import Artifact
from dp_core.storage_keys import frames_prefix
from dp_resources.media.segmentation import segment_video
from dp_resources.profile_resource import ProfileResource
from dp_resources.storage.resource import StorageResource


@component_asset(
    "segmenter",
    "segmenter",
    "One PyAV decode pass: analysis frames, a dense low-res stream, 16 kHz mono "
    "and original audio, metadata.json and per-component frame budgets under frames_dir.",
    deps=[upload_spec],
    kinds={"pyav"},
)
def segmenter(
    context: AssetExecutionContext, storage: StorageResource, profile: ProfileResource
) -> dict[str, Artifact]:
    active_profile = profile.load()
    store = storage.get_storage()

    def segment(video: VideoInput) -> ComponentOutput:
        prefix = frames_prefix(video.partition_key, context.run.run_id)
        with local_source(video.upload, store) as source:
            result = segment_video(source, store, prefix, active_profile)
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
            warnings=result.warnings,
            meta={
                "frames_prefix": prefix,
                "video_metadata": meta,
                "analysis_fps": meta["analysis_fps"],
                "analysis_width": meta["analysis_width"],
                "analysis_height": meta["analysis_height"],
            },
            display=display,
        )

    return run_component(context, "segmenter", active_profile, {}, segment)
