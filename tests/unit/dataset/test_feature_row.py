"""The feature row: fixed length and order, known values, NaN + indicators for gaps."""

import math

import numpy as np
import pytest

from dp_assets.components import feature_sets
from dp_features.dataset.feature_row import ComponentInput, column_descriptions, feature_columns
from dp_features.dataset.feature_row import feature_row as row_of

SETS = feature_sets()
FEATURE_COLUMN_NAMES = tuple(column.name for column in feature_columns(SETS))


def feature_row(components):
    return row_of(components, SETS)


pytestmark = pytest.mark.unit


def cuts(times, duration):
    edges = np.concatenate([[0.0], times, [duration]])
    return ComponentInput(
        "ok",
        {
            "cut_times_s": np.asarray(times, np.float64),
            "cut_kinds": np.array(["hard", "gradual", "hard"][: len(times)]),
            "cut_confidence": np.full(len(times), 0.5, np.float32),
            "shot_bounds_s": np.stack([edges[:-1], edges[1:]], axis=1),
        },
    )


def test_every_column_is_described_and_the_order_is_fixed():
    descriptions = column_descriptions(SETS)
    assert tuple(descriptions) == FEATURE_COLUMN_NAMES
    assert all(text.strip() for text in descriptions.values())
    assert len(set(FEATURE_COLUMN_NAMES)) == len(FEATURE_COLUMN_NAMES)
    assert tuple(feature_row({})) == FEATURE_COLUMN_NAMES


def test_values_come_from_the_artifact_arrays():
    row = feature_row(
        {
            "cut_detection": cuts([10.0, 20.0, 40.0], 60.0),
            "loudness_extractor": ComponentInput(
                "ok",
                {
                    "integrated_lufs": np.float64(-16.5),
                    "short_term_lufs": np.array([-20.0, -18.0, -16.0, -14.0], np.float32),
                },
            ),
            "speech_activity": ComponentInput(
                "empty", {"speech_segments_s": np.zeros((0, 2)), "speech_ratio": np.float64(0.0)}
            ),
        }
    )
    assert row["cut_detection_cut_count"] == 3
    assert row["cut_detection_hard_cut_count"] == 2
    assert row["cut_detection_gradual_cut_count"] == 1
    assert row["cut_detection_cuts_per_minute"] == pytest.approx(3.0)
    assert row["cut_detection_shot_count"] == 4
    assert row["cut_detection_shot_length_median_s"] == pytest.approx(15.0)
    assert row["loudness_extractor_integrated_lufs"] == -16.5
    assert row["loudness_extractor_short_term_p90_lufs"] == pytest.approx(-14.6)
    # empty is a valid result: zero counts, undefined means
    assert row["speech_activity_segment_count"] == 0
    assert row["speech_activity_speech_ratio"] == 0.0
    assert math.isnan(row["speech_activity_segment_length_mean_s"])
    assert row["speech_activity_missing"] == 0 and row["speech_activity_error"] == 0


def test_missing_and_error_components_give_nan_and_indicators():
    row = feature_row({"tempo_extractor": ComponentInput("error", {})})
    assert row["tempo_extractor_error"] == 1 and row["tempo_extractor_missing"] == 0
    assert math.isnan(row["tempo_extractor_tempo_bpm"])
    assert row["ocr_missing"] == 1 and row["ocr_error"] == 0
    assert math.isnan(row["ocr_line_count"])
    # an error artifact that still carries arrays is not aggregated
    row = feature_row(
        {"loudness_extractor": ComponentInput("error", {"integrated_lufs": np.float64(-9.0)})}
    )
    assert math.isnan(row["loudness_extractor_integrated_lufs"])
