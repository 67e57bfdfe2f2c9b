"""Every component is its spec, its algorithm module, its profile entries and its tests:
its feature columns are declared beside its algorithm (dp_features/<processor>/), and its
preview hook in its own declaration (or, shared by several, in dp_assets/previews.py)."""

import pytest

from dp_assets.components import catalog

pytestmark = pytest.mark.unit

PROCESSORS = (
    "dp_features.audio.",
    "dp_features.visual.",
    "dp_features.text.",
    "dp_features.video.",
)


@pytest.mark.parametrize("name", [n for n, spec in catalog().items() if spec.features])
def test_feature_columns_are_declared_beside_the_algorithm(name):
    module = catalog()[name].features.aggregate.__module__
    assert module.startswith(PROCESSORS), (name, module)


@pytest.mark.parametrize("name", [n for n, spec in catalog().items() if spec.preview])
def test_a_preview_hook_is_in_its_declaration_or_shared(name):
    module = catalog()[name].preview.__module__
    assert module in (f"dp_assets.components.{name}", "dp_assets.previews"), (name, module)
