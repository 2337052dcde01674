"""A self-contained HTML report: headings, key-value tables, preformatted text and PNG figures
embedded as base64 (one file, opens offline, no external assets)."""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from .io import atomic_write_text

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #446}h2{margin-top:1.6em;color:#335}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eef}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #ddd;margin:.4em 0}pre{background:#f6f6f8;padding:.6em;overflow-x:auto}
.ok{color:#070;font-weight:bold}.bad{color:#a00;font-weight:bold}"""


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def table_html(rows: list[dict[str, Any]] | dict[str, Any]) -> str:
    """A dict becomes a two-column table; a list of dicts a table with one column per key."""
    if isinstance(rows, dict):
        body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_cell(v)}</td></tr>" for k, v in rows.items())
        return f"<table>{body}</table>"
    if not rows:
        return "<p>(none)</p>"
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def image_html(path: str | Path, alt: str = "") -> str:
    p = Path(path)
    if not p.is_file():
        return f"<p>(figure {html.escape(p.name)} missing)</p>"
    b64 = base64.b64encode(p.read_bytes()).decode()
    return f'<img alt="{html.escape(alt or p.stem)}" src="data:image/png;base64,{b64}">'


def write_report(path: str | Path, title: str, sections: list[tuple[str, list[str]]]) -> None:
    """Write ``sections`` = [(heading, [html fragments])] as one self-contained HTML file (atomic)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for heading, frags in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.extend(frags)
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))
