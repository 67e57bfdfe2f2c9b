"""One fixed-length feature row per video, aggregated from its components' artifact arrays.

Each component's columns ({column: one-line description, units}) and their aggregation are
its `FeatureSet`, declared beside its algorithm in dp_features (`*_FEATURES`) and named by
its ComponentSpec; the summaries they share are in dp_features/feature_stats.py. The column
order is the catalogue's.

For each component of the catalogue there are two indicator columns, `<component>_missing`
(no artifact: not in the profile, skipped, or not run) and `<component>_error` (the artifact
says `status: error`); both make every value column of that component NaN. An `empty`
artifact (no speech, no text) is a valid result: its counts are 0 and its means NaN.

Embeddings (CLIP, CLAP, text) are not aggregated into the row: a fixed-length popularity
table keeps scalar summaries only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dp_core.component_spec import FeatureSet
from dp_features.feature_stats import Arrays

__all__ = [
    "ComponentInput",
    "FeatureColumn",
    "column_descriptions",
    "feature_columns",
    "feature_row",
]


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
