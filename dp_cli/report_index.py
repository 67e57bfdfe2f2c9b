"""`index.html` of a folder of reports: one row per video's report (status, duration,
resolution, shots, errors, when), newest first, each linking to its page.

It is rebuilt from the reports themselves (their `<meta name="dp:...">` tags) whenever a
report is written into the folder, so it lists exactly the reports that are there.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

REPORT_META = "dp:"  # prefix of the meta tags a report carries for its index
INDEX_NAME = "index.html"
COLUMNS = ("video", "status", "duration_s", "resolution", "shots", "errors", "finished")


class _MetaReader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name") or ""
        if tag == "meta" and name.startswith(REPORT_META):
            self.values[name.removeprefix(REPORT_META)] = a.get("content") or ""


def report_facts(path: Path) -> dict[str, str] | None:
    """The facts a report states about itself; None for a page that is not a dp report."""
    reader = _MetaReader()
    text = path.read_text(encoding="utf-8", errors="replace")
    reader.feed(text[: text.find("</head>") + 7 if "</head>" in text else len(text)])
    return reader.values or None


def write_index(folder: Path) -> Path:
    """(Re)write `folder/index.html` from the reports in it; returns its path."""
    folder = Path(folder)
    rows = []
    for page in sorted(folder.glob("*.html")):
        if page.name == INDEX_NAME:
            continue
        facts = report_facts(page)
        if facts is not None:
            rows.append((page.name, facts))
    rows.sort(key=lambda row: row[1].get("finished", ""), reverse=True)

    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    body = []
    for name, facts in rows:
        status = facts.get("status", "")
        errors = facts.get("errors", "")
        body.append(
            f'<tr data-report="{e(name)}"><td><a href="{e(name)}">{e(facts.get("video", name))}'
            f'</a></td><td class="{e(status)}">{e(status)}</td>'
            f"<td>{e(facts.get('duration_s', ''))}</td><td>{e(facts.get('resolution', ''))}</td>"
            f"<td>{e(facts.get('shots', ''))}</td><td>{e(errors if errors != '0' else '')}</td>"
            f"<td>{e(facts.get('finished', ''))}</td></tr>"
        )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>dp reports · {e(folder.name)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{len(rows)} video report(s)</h1><p>{e(folder.absolute())}</p>"
        '<table id="reports"><tr><th>video</th><th>status</th><th>duration (s)</th>'
        "<th>resolution</th><th>shots</th><th>failed components</th><th>finished</th></tr>"
        + "".join(body)
        + "</table></body></html>"
    )
    out = folder / INDEX_NAME
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(out)
    return out


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } p { color: #666; }
table { border-collapse: collapse; } th, td { padding: 4px 10px; border-bottom: 1px solid #eee;
  text-align: left; }
td.success { color: #2e8b57; } td.error { color: #c0392b; font-weight: 600; }
"""
