"""One fixed-length feature row per video, aggregated from its components' artifact arrays.

Every column is declared below with a one-line description (units in the text); each
component's ComponentSpec names its FeatureSet, and the column order is the catalogue's.
For each component of the catalogue there are two indicator columns, `<component>_missing` (no artifact: not in the profile, skipped, or not
run) and `<component>_error` (the artifact says `status: error`); both make every value
column of that component NaN. An `empty` artifact (no speech, no text) is a valid result:
its counts are 0 and its means NaN.

Embeddings (CLIP, CLAP, text) are not aggregated into the row: a fixed-length popularity
table keeps scalar summaries only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dp_core.component_spec import FeatureSet

Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class FeatureColumn:
    name: str
    component: str
    description: str


@dataclass(frozen=True)
class ComponentInput:
    """What the feature row needs from one artifact: its status and arrays."""

    status: str  # ok | empty | error
    arrays: Arrays


def _values(arrays: Arrays, name: str) -> np.ndarray:
    """A float64 1-D view of an array, non-finite values dropped; empty when absent."""
    if name not in arrays:
        return np.zeros(0)
    values = np.asarray(arrays[name], dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _scalar(arrays: Arrays, name: str) -> float:
    values = _values(arrays, name)
    return float(values[0]) if values.size else float("nan")


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def _std(values: np.ndarray) -> float:
    return float(values.std()) if values.size else float("nan")


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if values.size else float("nan")


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def _segmenter(a: Arrays) -> dict[str, float]:
    return {
        "segmenter_duration_s": _scalar(a, "duration_s"),
        "segmenter_analysis_frames": float(_values(a, "analysis_times_s").size),
    }


def _cut_detection(a: Arrays) -> dict[str, float]:
    kinds = np.asarray(a.get("cut_kinds", np.zeros(0, "<U1"))).astype(str)
    bounds = np.asarray(a.get("shot_bounds_s", np.zeros((0, 2))), dtype=np.float64).reshape(-1, 2)
    lengths = bounds[:, 1] - bounds[:, 0]
    duration = float(bounds[:, 1].max() - bounds[:, 0].min()) if len(bounds) else 0.0
    cuts = float(_values(a, "cut_times_s").size)
    return {
        "cut_detection_cut_count": cuts,
        "cut_detection_hard_cut_count": float((kinds == "hard").sum()),
        "cut_detection_gradual_cut_count": float((kinds == "gradual").sum()),
        "cut_detection_cuts_per_minute": _ratio(60.0 * cuts, duration),
        "cut_detection_confidence_mean": _mean(_values(a, "cut_confidence")),
        "cut_detection_shot_count": float(len(bounds)),
        "cut_detection_shot_length_median_s": _quantile(lengths, 0.5),
        "cut_detection_shot_length_p10_s": _quantile(lengths, 0.1),
        "cut_detection_shot_length_p90_s": _quantile(lengths, 0.9),
    }


def _optical_flow(a: Arrays) -> dict[str, float]:
    magnitude = _values(a, "magnitude_mean_px_s")
    global_speed = np.hypot(_values(a, "global_dx_px_s"), _values(a, "global_dy_px_s"))
    return {
        "core_optical_flow_magnitude_mean_px_s": _mean(magnitude),
        "core_optical_flow_magnitude_p90_px_s": _quantile(magnitude, 0.9),
        "core_optical_flow_magnitude_std_px_s": _std(magnitude),
        "core_optical_flow_global_speed_mean_px_s": _mean(global_speed),
        "core_optical_flow_residual_mean_px_s": _mean(_values(a, "residual_mean_px_s")),
    }


def _shot_quality(a: Arrays) -> dict[str, float]:
    sharpness = _values(a, "sharpness")
    return {
        "shot_quality_sharpness_mean": _mean(sharpness),
        "shot_quality_sharpness_p10": _quantile(sharpness, 0.1),
        "shot_quality_brightness_mean": _mean(_values(a, "brightness")),
        "shot_quality_contrast_mean": _mean(_values(a, "contrast")),
        "shot_quality_colourfulness_mean": _mean(_values(a, "colourfulness")),
        "shot_quality_noise_sigma_mean": _mean(_values(a, "noise_sigma")),
        "shot_quality_dark_clip_ratio_mean": _mean(_values(a, "dark_clip_ratio")),
        "shot_quality_bright_clip_ratio_mean": _mean(_values(a, "bright_clip_ratio")),
    }


def _video_pacing(a: Arrays) -> dict[str, float]:
    return {
        f"video_pacing_{name}": _scalar(a, name)
        for name in (
            "cuts_per_minute",
            "shot_length_mean_s",
            "shot_length_cv",
            "fast_shot_ratio",
            "pace_change_cpm",
            "motion_energy_mean",
            "motion_energy_p90",
            "motion_cut_correlation",
        )
    }


def _loudness(a: Arrays) -> dict[str, float]:
    short_term = _values(a, "short_term_lufs")
    return {
        "loudness_extractor_integrated_lufs": _scalar(a, "integrated_lufs"),
        "loudness_extractor_loudness_range_lu": _scalar(a, "loudness_range_lu"),
        "loudness_extractor_true_peak_dbtp": _scalar(a, "true_peak_dbtp"),
        "loudness_extractor_momentary_max_lufs": _scalar(a, "momentary_max_lufs"),
        "loudness_extractor_short_term_p10_lufs": _quantile(short_term, 0.1),
        "loudness_extractor_short_term_p90_lufs": _quantile(short_term, 0.9),
        "loudness_extractor_short_term_std_lu": _std(short_term),
    }


def _tempo(a: Arrays) -> dict[str, float]:
    beats = _values(a, "beat_times_s")
    onset_times = _values(a, "onset_times_s")
    span = float(onset_times.max() - onset_times.min()) if onset_times.size > 1 else 0.0
    return {
        "tempo_extractor_tempo_bpm": _scalar(a, "tempo_bpm"),
        "tempo_extractor_beat_confidence": _scalar(a, "beat_confidence"),
        "tempo_extractor_beat_count": float(beats.size),
        "tempo_extractor_beats_per_minute_observed": _ratio(60.0 * beats.size, span),
        "tempo_extractor_onset_strength_mean": _mean(_values(a, "onset_strength")),
    }


def _speech(a: Arrays) -> dict[str, float]:
    segments = np.asarray(a.get("speech_segments_s", np.zeros((0, 2))), np.float64).reshape(-1, 2)
    lengths = segments[:, 1] - segments[:, 0]
    return {
        "speech_activity_speech_ratio": _scalar(a, "speech_ratio"),
        "speech_activity_segment_count": float(len(segments)),
        "speech_activity_segment_length_mean_s": _mean(lengths),
    }


def _audio_events(a: Arrays) -> dict[str, float]:
    scores = _values(a, "class_scores")
    total = scores.sum() if scores.size else 0.0
    p = scores / total if total > 0 else np.zeros(0)
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum()) if p.size else float("nan")
    return {
        "audio_events_top_score": float(scores.max()) if scores.size else float("nan"),
        "audio_events_classes_above_0_2": float((scores > 0.2).sum()),
        "audio_events_score_entropy_nats": entropy,
    }


def _ocr(a: Arrays) -> dict[str, float]:
    spans = np.asarray(a.get("lines_span_s", np.zeros((0, 2))), np.float64).reshape(-1, 2)
    read = np.asarray(a.get("frame_read", np.zeros(0, bool)), bool)
    frames_with_text = np.unique(np.asarray(a.get("box_frame", np.zeros(0)), np.int64)).size
    return {
        "ocr_line_count": float(len(spans)),
        "ocr_line_seconds_total": float((spans[:, 1] - spans[:, 0]).sum()),
        "ocr_line_confidence_mean": _mean(_values(a, "lines_confidence")),
        "ocr_text_frame_ratio": _ratio(float(frames_with_text), float(read.sum())),
    }


def _text_features(a: Arrays) -> dict[str, float]:
    counts = _values(a, "counts")
    return {
        "text_features_token_count_total": float(counts.sum()) if counts.size else float("nan"),
        "text_features_cyrillic_share": _scalar(a, "cyrillic_share"),
    }


def _face_landmarks(a: Arrays) -> dict[str, float]:
    faces = _values(a, "face_count")
    return {
        "core_face_landmarks_faces_per_frame_mean": _mean(faces),
        "core_face_landmarks_frames_with_face_ratio": _mean((faces > 0).astype(np.float64)),
    }


def _object_detections(a: Arrays) -> dict[str, float]:
    frames = float(_values(a, "frame_times_s").size)
    scores = _values(a, "scores")
    return {
        "core_object_detections_per_frame_mean": _ratio(float(scores.size), frames),
        "core_object_detections_score_mean": _mean(scores),
        "core_object_detections_class_count": float(
            np.unique(np.asarray(a.get("class_names", np.zeros(0, "<U1"))).astype(str)).size
        ),
    }


def _clip(a: Arrays) -> dict[str, float]:
    embeddings = np.asarray(a.get("embeddings", np.zeros((0, 1))), np.float64)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        return {"core_clip_frame_to_frame_similarity_mean": float("nan")}
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    return {"core_clip_frame_to_frame_similarity_mean": float((unit[1:] * unit[:-1]).sum(1).mean())}


# Each component's columns ({column: description}; descriptions give units), referenced
# by its ComponentSpec (dp_assets/components/): the table's columns come from the specs.
SEGMENTER_FEATURES = FeatureSet(
    _segmenter,
    {
        "segmenter_duration_s": "video duration, seconds",
        "segmenter_analysis_frames": "count of analysis frames sampled",
    },
)

CLIP_FEATURES = FeatureSet(
    _clip,
    {
        "core_clip_frame_to_frame_similarity_mean": (
            "mean cosine similarity of consecutive CLIP frame embeddings (1 = static)"
        )
    },
)

FACE_LANDMARKS_FEATURES = FeatureSet(
    _face_landmarks,
    {
        "core_face_landmarks_faces_per_frame_mean": "mean faces per analysis frame",
        "core_face_landmarks_frames_with_face_ratio": "share of frames with >= 1 face, 0..1",
    },
)

OBJECT_DETECTIONS_FEATURES = FeatureSet(
    _object_detections,
    {
        "core_object_detections_per_frame_mean": "detections per analysis frame",
        "core_object_detections_score_mean": "mean detection score, 0..1",
        "core_object_detections_class_count": "count of distinct detected classes",
    },
)

OPTICAL_FLOW_FEATURES = FeatureSet(
    _optical_flow,
    {
        "core_optical_flow_magnitude_mean_px_s": "mean flow magnitude, pixels/s",
        "core_optical_flow_magnitude_p90_px_s": "90th percentile of per-pair mean flow, px/s",
        "core_optical_flow_magnitude_std_px_s": "std of per-pair mean flow, px/s",
        "core_optical_flow_global_speed_mean_px_s": "mean camera (global) motion speed, px/s",
        "core_optical_flow_residual_mean_px_s": "mean motion left after global motion, px/s",
    },
)

CUT_DETECTION_FEATURES = FeatureSet(
    _cut_detection,
    {
        "cut_detection_cut_count": "count of cuts (hard + gradual)",
        "cut_detection_hard_cut_count": "count of hard cuts",
        "cut_detection_gradual_cut_count": "count of gradual transitions",
        "cut_detection_cuts_per_minute": "cuts per minute of video",
        "cut_detection_confidence_mean": "mean cut confidence, 0..1",
        "cut_detection_shot_count": "count of shots",
        "cut_detection_shot_length_median_s": "median shot length, seconds",
        "cut_detection_shot_length_p10_s": "10th percentile shot length, seconds",
        "cut_detection_shot_length_p90_s": "90th percentile shot length, seconds",
    },
)

SHOT_QUALITY_FEATURES = FeatureSet(
    _shot_quality,
    {
        "shot_quality_sharpness_mean": "mean sharpness over sampled frames",
        "shot_quality_sharpness_p10": "10th percentile sharpness (the blurriest frames)",
        "shot_quality_brightness_mean": "mean brightness, 0..1",
        "shot_quality_contrast_mean": "mean contrast",
        "shot_quality_colourfulness_mean": "mean colourfulness (Hasler-Suesstrunk)",
        "shot_quality_noise_sigma_mean": "mean noise sigma estimate",
        "shot_quality_dark_clip_ratio_mean": "mean share of crushed-black pixels, 0..1",
        "shot_quality_bright_clip_ratio_mean": "mean share of blown-out pixels, 0..1",
    },
)

VIDEO_PACING_FEATURES = FeatureSet(
    _video_pacing,
    {
        "video_pacing_cuts_per_minute": "cuts per minute (pacing component)",
        "video_pacing_shot_length_mean_s": "mean shot length, seconds",
        "video_pacing_shot_length_cv": "coefficient of variation of shot length",
        "video_pacing_fast_shot_ratio": "share of short shots, 0..1",
        "video_pacing_pace_change_cpm": "change of cut rate over the video, cuts/min",
        "video_pacing_motion_energy_mean": "mean motion energy",
        "video_pacing_motion_energy_p90": "90th percentile motion energy",
        "video_pacing_motion_cut_correlation": "correlation of motion and cuts, -1..1",
    },
)

LOUDNESS_FEATURES = FeatureSet(
    _loudness,
    {
        "loudness_extractor_integrated_lufs": "EBU R128 integrated loudness, LUFS",
        "loudness_extractor_loudness_range_lu": "EBU R128 loudness range, LU",
        "loudness_extractor_true_peak_dbtp": "true peak, dBTP",
        "loudness_extractor_momentary_max_lufs": "maximum momentary loudness, LUFS",
        "loudness_extractor_short_term_p10_lufs": "10th percentile short-term loudness, LUFS",
        "loudness_extractor_short_term_p90_lufs": "90th percentile short-term loudness, LUFS",
        "loudness_extractor_short_term_std_lu": "std of short-term loudness, LU",
    },
)

TEMPO_FEATURES = FeatureSet(
    _tempo,
    {
        "tempo_extractor_tempo_bpm": "global tempo, beats per minute",
        "tempo_extractor_beat_confidence": "beat tracking confidence, 0..1",
        "tempo_extractor_beat_count": "count of tracked beats",
        "tempo_extractor_beats_per_minute_observed": "tracked beats per minute of audio",
        "tempo_extractor_onset_strength_mean": "mean onset strength",
    },
)

SPEECH_FEATURES = FeatureSet(
    _speech,
    {
        "speech_activity_speech_ratio": "share of the audio with speech, 0..1",
        "speech_activity_segment_count": "count of speech segments",
        "speech_activity_segment_length_mean_s": "mean speech segment length, seconds",
    },
)

AUDIO_EVENTS_FEATURES = FeatureSet(
    _audio_events,
    {
        "audio_events_top_score": "highest clip-level class score, 0..1",
        "audio_events_classes_above_0_2": "count of classes scoring above 0.2",
        "audio_events_score_entropy_nats": "entropy of normalised class scores, nats",
    },
)

OCR_FEATURES = FeatureSet(
    _ocr,
    {
        "ocr_line_count": "count of on-screen text lines",
        "ocr_line_seconds_total": "sum of on-screen text line durations, seconds",
        "ocr_line_confidence_mean": "mean OCR line confidence, 0..1",
        "ocr_text_frame_ratio": "share of read frames with text, 0..1",
    },
)

TEXT_FEATURES = FeatureSet(
    _text_features,
    {
        "text_features_token_count_total": "sum of the text counts (all sources)",
        "text_features_cyrillic_share": "share of Cyrillic letters in the text, 0..1",
    },
)


def feature_columns(feature_sets: Mapping[str, FeatureSet | None]) -> tuple[FeatureColumn, ...]:
    """The table's columns, in order: for each component (in the given order) its two
    indicator columns, then the columns its feature set declares."""
    columns: list[FeatureColumn] = []
    for component, features in feature_sets.items():
        columns.append(
            FeatureColumn(f"{component}_missing", component, f"1 when no {component} artifact")
        )
        columns.append(
            FeatureColumn(
                f"{component}_error", component, f"1 when the {component} artifact has status error"
            )
        )
        described = features.columns if features else {}
        columns.extend(FeatureColumn(n, component, d) for n, d in described.items())
    return tuple(columns)


def column_descriptions(feature_sets: Mapping[str, FeatureSet | None]) -> dict[str, str]:
    """Column name -> one-line description, in the fixed column order."""
    return {c.name: c.description for c in feature_columns(feature_sets)}


def feature_row(
    components: Mapping[str, ComponentInput], feature_sets: Mapping[str, FeatureSet | None]
) -> dict[str, float]:
    """The fixed-length row (float64 values, `feature_columns` order) of one video.

    `components` maps component name -> its artifact (absent = missing). A component not in
    `feature_sets` is ignored; an aggregator never sees an `error` artifact.
    """
    row: dict[str, float] = {}
    for component, features in feature_sets.items():
        given = components.get(component)
        missing = given is None
        error = given is not None and given.status == "error"
        row[f"{component}_missing"] = float(missing)
        row[f"{component}_error"] = float(error)
        if features is None:
            continue
        values: dict[str, float] = {}
        if not missing and not error:
            values = features.aggregate(given.arrays)
        for name in features.columns:
            row[name] = float(values.get(name, float("nan")))
    return row
