"""Step metadata as a person reads it in the Dagster UI: floats to a few significant digits
(the artifacts keep full precision)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dagster import FloatMetadataValue, JsonMetadataValue, MetadataValue

SIGNIFICANT = 4


def round_significant(value: float, digits: int = SIGNIFICANT) -> float:
    """`value` to `digits` significant digits; a number with more integer digits than that
    keeps them (12345.6 -> 12346.0, never 12350.0); zero, NaN and infinities unchanged."""
    if not math.isfinite(value) or value == 0.0:
        return value
    if abs(value) >= 10 ** (digits - 1):
        return float(round(value))
    return float(f"{value:.{digits}g}")


def rounded(value: Any, digits: int = SIGNIFICANT) -> Any:
    """Every float inside `value` (numbers, numpy scalars, lists, tuples, dicts, Dagster's
    float and JSON metadata values) rounded by `round_significant`; the rest unchanged
    (ints, bools, strings: keys and digests are never touched)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0):
        kind = getattr(getattr(value, "dtype", None), "kind", "f")
        if kind == "f":
            return round_significant(float(value), digits)
        return value.item() if hasattr(value, "item") else value
    if isinstance(value, FloatMetadataValue):
        return MetadataValue.float(rounded(value.value, digits))
    if isinstance(value, JsonMetadataValue):
        return MetadataValue.json(rounded(value.data, digits))
    if isinstance(value, MetadataValue):  # markdown, paths, urls...: as given
        return value
    if isinstance(value, Mapping):
        return {k: rounded(v, digits) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(rounded(v, digits) for v in value)
    return value
