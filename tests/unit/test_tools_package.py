"""The offline model tooling (`dp_tools`) is a package of its own: installed with the
`[tools]` extra, absent from the runtime image, and `dp models` says how to get it when it
is missing (the layer rules themselves: tests/unit/test_layers.py)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dp_cli.main import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def copied_paths(dockerfile: str) -> list[str]:
    """The sources of every COPY line (`COPY a/ b/ dest` -> a/, b/)."""
    return [
        source.rstrip("/")
        for line in dockerfile.splitlines()
        if line.split()[:1] == ["COPY"]
        for source in line.split()[1:-1]
        if not source.startswith("--")
    ]


def test_the_runtime_image_copies_the_runtime_packages_and_not_the_tooling():
    copied = copied_paths((REPO / "Dockerfile").read_text(encoding="utf-8"))
    assert {"dp_core", "dp_resources", "dp_assets", "dp_cli"} <= set(copied)
    assert not [path for path in copied if path in (".", "dp_tools") or "dp_tools" in path]


def test_the_copy_reader_sees_a_copied_tooling_folder():
    assert "dp_tools" in copied_paths("COPY dp_cli/ dp_cli/\nCOPY dp_tools/ dp_tools/\n")


def test_the_tooling_is_packaged_with_its_own_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "tools" in project["project"]["optional-dependencies"]
    assert "dp_tools*" in project["tool"]["setuptools"]["packages"]["find"]["include"]
    setup = (REPO / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "tools" in setup.split("pip install --quiet -e '.[", 1)[1].split("]", 1)[0]


@pytest.fixture
def without_tooling(monkeypatch):
    """As in the runtime image: `import dp_tools` fails."""
    for name in [n for n in sys.modules if n == "dp_tools" or n.startswith("dp_tools.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "dp_tools", None)


@pytest.mark.parametrize(
    "args",
    [
        ["stand-in", "clap"],
        ["prepare", "nanodet"],
        ["pull", "clip"],
        ["export", "midas"],
        ["quantize", "clip", "--mode", "int8"],
        ["trt", "midas"],
    ],
)
def test_a_tooling_command_without_the_tooling_names_the_extra(without_tooling, tmp_path, args):
    env = {"DP_MODEL_DIR": str(tmp_path), "DP_MODEL_CACHE": str(tmp_path / "cache")}
    done = CliRunner().invoke(main, ["models", *args], env=env)
    assert done.exit_code == 2, done.output
    assert "[DEPENDENCY_MISSING]" in done.stderr
    assert "pip install .[tools]" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_model_list_needs_no_tooling(without_tooling, tmp_path):
    env = {"DP_MODEL_DIR": str(tmp_path), "DP_MODEL_CACHE": str(tmp_path / "cache")}
    done = CliRunner().invoke(main, ["models", "list"], env=env)
    assert done.exit_code == 0, done.output
    assert "clap" in done.output


def test_the_tool_side_builders_cover_exactly_the_families_that_declare_them():
    from dp_resources.models.registry import families_obtained_by, stand_in_families
    from dp_tools.hub import SOURCES
    from dp_tools.prepare import PREPARERS
    from dp_tools.stand_ins import STAND_INS

    for size, builders in STAND_INS.items():
        assert set(builders) == set(stand_in_families()), size
        assert all(s.family.name == name and s.size == size for name, s in builders.items())
    assert set(PREPARERS) == set(families_obtained_by("prepare"))
    assert set(SOURCES) == set(families_obtained_by("pull"))
