"""The layers of docs/ARCHITECTURE.md: each package imports only the ones above it, the
algorithms and contracts never import Dagster, and the offline model tooling (`dp_tools`,
beside dp_cli) uses the runtime but the runtime never uses it: only dp_cli's commands import
it, inside the command."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("dp_core", "dp_features", "dp_resources", "io_managers", "dp_assets", "dp_cli")
TOOLS = "dp_tools"
TOOLS_MAY_IMPORT = ("dp_core", "dp_features", "dp_resources")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top_level_imports(path: Path) -> set[str]:
    """The modules imported outside any function or class (when the module is imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lazy = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for inner in ast.walk(node)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in lazy:
            continue
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


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_the_runtime_never_imports_the_offline_tooling(layer):
    wrong = [
        (path, name)
        for path, names in modules_of(layer)
        for name in names
        if name.split(".")[0] == TOOLS
    ]
    assert wrong == []


def test_the_offline_tooling_imports_only_the_runtime_below_the_assets():
    wrong = [
        (path, name)
        for path, names in modules_of(TOOLS)
        for name in names
        if name.split(".")[0] in LAYERS and name.split(".")[0] not in TOOLS_MAY_IMPORT
    ]
    assert wrong == []


def test_the_cli_imports_the_offline_tooling_only_inside_a_command():
    cli = sorted((ROOT / "dp_cli").rglob("*.py"))
    wrong = [
        (path.relative_to(ROOT).as_posix(), name)
        for path in cli
        for name in top_level_imports(path)
        if name.split(".")[0] == TOOLS
    ]
    assert wrong == []
    using = [path.name for path in cli if any(n.startswith(TOOLS) for n in imported_modules(path))]
    assert using == ["models_cmd.py"]


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from dp_assets.factory import component_asset\nimport dagster\n"
        "def command():\n    from dp_tools.hub import pull_checkpoint\n"
    )
    assert {"dp_assets.factory", "dagster", "dp_tools.hub"} <= imported_modules(bad)
    assert "dp_tools.hub" not in top_level_imports(bad)
    assert "dp_assets.factory" in top_level_imports(bad)
