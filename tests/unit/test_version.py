import re
import subprocess
from pathlib import Path

import pytest

from dp_core.version import dataprocessor_version

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_version_is_package_version_plus_git_sha():
    version = dataprocessor_version()
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=10", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert re.fullmatch(r"0\.1\.0\+g[0-9a-f]{10}(\.dirty)?", version)
    assert version.split("+g")[1].startswith(head)


def test_a_sha_given_by_the_environment_wins(monkeypatch):
    dataprocessor_version.cache_clear()
    monkeypatch.setenv("DP_GIT_SHA", "abc1234567")
    try:
        assert dataprocessor_version() == "0.1.0+gabc1234567"
    finally:
        dataprocessor_version.cache_clear()
