"""The summary table `dp process` ends with."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.table import Table


def print_summary(results, storage_base: str, console: Console | None = None) -> None:
    """One row per video. A manifest key is never folded mid-key (people copy it): its
    column is as wide as the longest key, and the table as wide as it needs; a narrower
    terminal wraps the line itself, which copies back whole."""
    keys = [r.manifest_key or "" for r in results]
    table = Table(title=f"dp process · storage {storage_base}")
    for column in ("video", "status", "ok/empty/error", "reused"):
        table.add_column(column, overflow="fold")
    table.add_column(
        "manifest key / error",
        no_wrap=True,
        min_width=max((len(k) for k in keys), default=0),
    )
    for r in results:
        counts = f"{r.counts['ok']}/{r.counts['empty']}/{r.counts['error']}"
        if r.status == "success":
            status, detail = "[green]success[/green]", r.manifest_key or ""
        else:
            status = f"[red]error[/red] {r.error_code or ''}"
            message = textwrap.fill(r.message or "", 60, break_long_words=False)
            detail = message + (f"\n{r.manifest_key}" if r.manifest_key else "")
        name = f"{r.platform}/{r.video_id}" if r.video_id else r.source
        table.add_row(name, status, counts, str(r.reused), detail)
    console = console or Console()
    needed = console.measure(table, options=console.options.update_width(100_000)).maximum
    if needed > console.width:
        console = Console(width=needed, file=console.file)
    console.print(table)
