"""The layers of docs/ARCHITECTURE.md: each package imports only the ones above it, the
algorithms and contracts never import Dagster, and the runtime model path never imports
the offline model tooling."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("dp_core", "dp_features", "dp_resources", "io_managers", "dp_assets", "dp_cli")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_of(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), imported_modules(path)


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_above_it(layer):
    below = LAYERS[LAYERS.index(layer) + 1 :]
    wrong = [
        (path, name)
        for path, names in modules_of(layer)
        for name in names
        if name.split(".")[0] in below
    ]
    assert wrong == []


@pytest.mark.parametrize("layer", ["dp_core", "dp_features"])
def test_contracts_and_algorithms_never_import_dagster(layer):
    wrong = [
        (path, name)
        for path, names in modules_of(layer)
        for name in names
        if name.split(".")[0] == "dagster"
    ]
    assert wrong == []


def test_the_runtime_model_path_never_imports_offline_tooling():
    runtime = [*modules_of("dp_resources/models"), *modules_of("dp_assets")]
    wrong = [
        (path, name)
        for path, names in runtime
        for name in names
        if name.startswith("dp_resources.model_tooling")
    ]
    assert wrong == []


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from dp_assets.factory import component_asset\nimport dagster\n")
    assert {"dp_assets.factory", "dagster"} <= imported_modules(bad)
