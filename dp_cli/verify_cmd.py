"""`dp verify STORAGE`: walk every manifest of a storage and check what it claims."""

from __future__ import annotations

import json
import os
import sys

import click

from dp_core.errors import DpError


@click.command()
@click.argument("storage", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def verify(storage: str | None, as_json: bool) -> None:
    """Check every manifest of STORAGE (a folder or s3://bucket/prefix; default: the
    embedded one): each artifact present, its sha256 as recorded and decodable, each input
    and stream file present with its digest. Reads every byte. Exit 1 on any problem."""
    from dp_cli.home import DEFAULT_HOME
    from dp_resources.storage.audit import audit_storage
    from dp_resources.storage.backends import open_storage

    base = storage or os.environ.get("DP_STORAGE") or str(DEFAULT_HOME / "storage")
    try:
        report = audit_storage(open_storage(base))
    except DpError as exc:
        click.echo(f"error: [{exc.code.value}] {exc.message}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"storage": base, **report.as_json()}, indent=2))
    else:
        for problem in report.problems:
            click.echo(f"✗ {problem}")
        for problem in report.superseded:
            click.echo(f"· superseded: {problem}")
        verdict = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        if report.superseded:
            verdict += (
                f"; {len(report.superseded)} problem(s) in older manifests of videos whose "
                "newest manifest verifies (their runs were healed or redone)"
            )
        click.echo(
            f"{base}: {report.manifests} manifest(s), {report.artifacts} artifact(s), "
            f"{report.stream_files} stream file(s) checked · {verdict}"
        )
    sys.exit(0 if report.ok else 1)
