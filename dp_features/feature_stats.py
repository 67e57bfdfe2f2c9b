"""The small summaries every component's `FeatureSet` aggregates its arrays with.

Each is NaN where it is undefined (no values, zero denominator), so an `empty` artifact
gives NaN means and 0 counts in the feature row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Arrays = Mapping[str, np.ndarray]


def finite_values(arrays: Arrays, name: str) -> np.ndarray:
    """A float64 1-D view of an array, non-finite values dropped; empty when absent."""
    if name not in arrays:
        return np.zeros(0)
    values = np.asarray(arrays[name], dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def first_value(arrays: Arrays, name: str) -> float:
    """The first finite value of an array (a stored scalar), NaN when there is none."""
    values = finite_values(arrays, name)
    return float(values[0]) if values.size else float("nan")


def mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def std_or_nan(values: np.ndarray) -> float:
    return float(values.std()) if values.size else float("nan")


def quantile_or_nan(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if values.size else float("nan")


def ratio_or_nan(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("nan")


def span_rows(arrays: Arrays, name: str) -> np.ndarray:
    """A float64 [n, 2] array of (start, end) spans; [0, 2] when absent."""
    return np.asarray(arrays.get(name, np.zeros((0, 2))), np.float64).reshape(-1, 2)
