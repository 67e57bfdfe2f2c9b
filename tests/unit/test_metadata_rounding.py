"""Step metadata floats rounded for the UI: significant digits, integers and text kept."""

import math

import numpy as np
import pytest
from dagster import MetadataValue

from dp_assets.metadata_rounding import round_significant, rounded

pytestmark = pytest.mark.unit


def test_floats_keep_four_significant_digits_and_their_integer_part():
    assert round_significant(0.123456789) == 0.1235
    assert round_significant(-11.14452285) == -11.14
    assert round_significant(26.666666667) == 26.67
    assert round_significant(0.000123456) == 0.0001235
    assert round_significant(12345.6) == 12346.0  # never 12350: integer digits stay
    assert round_significant(0.0) == 0.0 and math.isnan(round_significant(math.nan))
    assert round_significant(math.inf) == math.inf


def test_nested_values_numpy_scalars_and_dagster_values_are_rounded_text_is_not():
    metadata = {
        "status": "ok",
        "sha256": "0123456789abcdef",
        "cuts": 3,
        "gradual": np.int64(2),
        "flag": True,
        "tempo_bpm": np.float64(117.45383),
        "beat_confidence": np.float32(0.83456),
        "duration_ms": 1234.5678,
        "series": [0.333333, 2.0 / 3.0],
        "counts": MetadataValue.json({"a": 0.123456, "b": [1.0 / 7.0], "n": 5}),
        "ratio": MetadataValue.float(0.987654321),
        "preview": MetadataValue.md("![x](data:image/png;base64,AAAA)"),
    }
    out = rounded(metadata)
    assert out["status"] == "ok" and out["sha256"] == "0123456789abcdef"
    assert out["cuts"] == 3 and out["gradual"] == 2 and out["flag"] is True
    assert out["tempo_bpm"] == 117.5 and isinstance(out["tempo_bpm"], float)
    assert out["beat_confidence"] == 0.8346
    assert out["duration_ms"] == 1235.0
    assert out["series"] == [0.3333, 0.6667]
    assert out["counts"].data == {"a": 0.1235, "b": [0.1429], "n": 5}
    assert out["ratio"].value == 0.9877
    assert out["preview"] is metadata["preview"]
