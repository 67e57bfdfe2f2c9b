"""The embedded default: a Dagster home and a storage folder under `.dp/` in the cwd."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from dagster import DagsterInstance

EMBEDDED_DAGSTER_YAML = Path(__file__).with_name("dagster_embedded.yaml")
DEFAULT_HOME = Path(".dp")


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME if set, else `.dp/dagster_home` (created with the embedded dagster.yaml)."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME / "dagster_home").absolute()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(EMBEDDED_DAGSTER_YAML, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def open_instance() -> DagsterInstance:
    ensure_dagster_home()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DagsterInstance.get()
