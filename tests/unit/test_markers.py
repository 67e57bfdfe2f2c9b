"""Every test file carries the marker of its folder, so `-m unit|accuracy|integration`
selects exactly that folder's tests."""

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

TESTS = Path(__file__).resolve().parents[1]
FOLDERS = ("unit", "accuracy", "integration")


def module_markers(path: Path) -> set[str]:
    """Names of the `pytest.mark.X` given to `pytestmark` (one marker or a list of them)."""
    markers = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            values = (
                node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            )
            for value in values:
                if isinstance(value, ast.Call):
                    value = value.func
                if isinstance(value, ast.Attribute):
                    markers.add(value.attr)
    return markers


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_test_file_is_marked_with_its_folder(folder):
    files = sorted((TESTS / folder).rglob("test_*.py"))
    assert files, f"no test files under tests/{folder}"
    unmarked = [str(f.relative_to(TESTS)) for f in files if folder not in module_markers(f)]
    assert unmarked == [], f"add `pytestmark = pytest.mark.{folder}` to these files"
