"""Moving each component's FeatureSet beside its algorithm kept the feature table: every
column that existed before the move (recorded from the catalogue at commit 0a686f9, the
commit before it) is still there, with its component and description, in the same order.
Columns of components added since may sit anywhere between them."""

import json
from pathlib import Path

import pytest

from dp_assets.components import feature_sets
from dp_features.dataset.feature_row import feature_columns, feature_row

pytestmark = pytest.mark.unit

RECORDED = Path(__file__).with_name("feature_columns_at_0a686f9.json")


def test_the_recorded_columns_are_unchanged_in_name_order_and_description():
    recorded = [tuple(column) for column in json.loads(RECORDED.read_text(encoding="utf-8"))]
    recorded_components = {component for _, component, _ in recorded}
    now = [
        (column.name, column.component, column.description)
        for column in feature_columns(feature_sets())
        if column.component in recorded_components
    ]
    assert now == recorded


def test_every_recorded_column_is_in_the_row():
    recorded = [name for name, _, _ in json.loads(RECORDED.read_text(encoding="utf-8"))]
    row = feature_row({}, feature_sets())
    assert [name for name in row if name in set(recorded)] == recorded
