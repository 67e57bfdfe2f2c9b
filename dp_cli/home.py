"""The embedded default: a Dagster home and a storage folder under `.dp/` in the cwd."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from dagster import DagsterInstance

from dp_cli.run_guard import init_lock

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
    """The instance of the Dagster home; a fresh home's storage is created by one process
    at a time (two `dp process` starting together on a new home must both work)."""
    home = ensure_dagster_home()
    with warnings.catch_warnings(), init_lock(home):
        warnings.simplefilter("ignore")
        instance = DagsterInstance.get()
        instance.get_runs(limit=1)  # runs the schema migrations now, under the lock
        return instance
