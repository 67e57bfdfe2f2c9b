"""`dp retention`: delete the event logs of finished video runs older than an age."""

from __future__ import annotations

import json
import os
import sys

import click

from dp_core.errors import DpError


@click.command()
@click.option(
    "--days",
    type=float,
    default=None,
    help="age in days after which finished runs' events go [DP_EVENT_RETENTION_DAYS]",
)
@click.option("--storage", default=None, help="where the manifests are [DP_STORAGE, .dp/storage]")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def retention(days: float | None, storage: str | None, as_json: bool) -> None:
    """Delete the events of video runs that finished more than DAYS ago and whose
    manifests are in STORAGE; each video's newest result stays (reuse, re-runs and the UI's
    partition status are unchanged). Without --days and DP_EVENT_RETENTION_DAYS: nothing."""
    from dp_assets.retention import RETENTION_ENV, apply_retention, retention_days
    from dp_cli.home import DEFAULT_HOME, open_instance
    from dp_resources.storage.backends import open_storage

    try:
        age = days if days is not None else retention_days()
        if age is None:
            click.echo(f"no age given (--days or {RETENTION_ENV}): nothing deleted", err=True)
            sys.exit(0)
        base = storage or os.environ.get("DP_STORAGE") or str(DEFAULT_HOME / "storage")
        report = apply_retention(open_instance(), open_storage(base), max_age_days=age)
    except DpError as exc:
        click.echo(f"error: [{exc.code.value}] {exc.message}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"max_age_days": age, **report.as_json()}, indent=2))
        return
    click.echo(
        f"{len(report.deleted)} finished run(s) older than {age:g} day(s) deleted; "
        f"{report.copies} newest result(s) kept"
    )
    for run_id in report.kept_unwritten:
        click.echo(f"· kept {run_id}: its manifests are not all written (run dp process again)")
