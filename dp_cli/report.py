"""The summary table `dp process` ends with."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_summary(results, storage_base: str) -> None:
    table = Table(title=f"dp process · storage {storage_base}")
    for column in ("video", "status", "ok/empty/error", "reused", "manifest key / error"):
        table.add_column(column, overflow="fold")
    for r in results:
        counts = f"{r.counts['ok']}/{r.counts['empty']}/{r.counts['error']}"
        if r.status == "success":
            status, detail = "[green]success[/green]", r.manifest_key or ""
        else:
            status = f"[red]error[/red] {r.error_code or ''}"
            detail = f"{r.message or ''}" + (f"\n{r.manifest_key}" if r.manifest_key else "")
        name = f"{r.platform}/{r.video_id}" if r.video_id else r.source
        table.add_row(name, status, counts, str(r.reused), detail)
    Console().print(table)
