"""Small pictures of a component's result (PNG/JPEG bytes, a few tens of kB), drawn with PIL
from plain arrays: shown in the Dagster UI's partition metadata and in `dp report`."""

from dp_features.previews.canvas import PREVIEW_WIDTH, TimeAxis, image_mime
from dp_features.previews.frames import annotated_frames, frames_with_most_boxes
from dp_features.previews.shots import contact_sheet, shots_shown
from dp_features.previews.timelines import CurveLane, HeatLane, SpanLane, timeline

__all__ = [
    "PREVIEW_WIDTH",
    "CurveLane",
    "HeatLane",
    "SpanLane",
    "TimeAxis",
    "annotated_frames",
    "contact_sheet",
    "frames_with_most_boxes",
    "image_mime",
    "shots_shown",
    "timeline",
]
