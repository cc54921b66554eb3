"""The board as text: a Markdown table (for the README and pull requests) and a standalone HTML page."""

from __future__ import annotations

import html

from lmspec.compiler.hardware import format_duration
from lmspec.speedrun.board import Board, Row

PLOT_FILE = "board.png"
COLUMNS = (
    "#",
    "submission",
    "bits/byte ± stderr",
    "FLOPs",
    "params",
    "tokens",
    "wall time",
    "hardware",
    "frontier",
    "author",
    "description",
)


def cells(row: Row) -> list[str]:
    """One row's values, as plain text (each renderer escapes and links them its own way)."""
    r = row.results
    return [
        str(row.rank),
        r.submission.name,
        f"{r.bits_per_byte:.4f} ± {r.bits_per_byte_stderr:.4f}",
        f"{r.flops:.2e}",
        f"{r.parameters / 1e6:.2f}M",
        f"{r.tokens:,}",
        format_duration(r.wall_seconds / 3600),
        f"{r.hardware.accelerator} ({r.hardware.cores} cores)"
        if r.hardware.accelerator == "cpu"
        else f"{r.hardware.devices}x {r.hardware.accelerator}",
        "yes" if row.frontier else "",
        r.submission.author,
        r.submission.description,
    ]


def markdown(board: Board) -> str:
    """The board as Markdown: the ranked table, the plot, then the rejected submissions with their reasons."""
    lines = [f"### Speedrun board: {board.track} track", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in board.rows:
        values = [_md(v) for v in cells(row)]
        if row.results.submission.url:
            values[1] = f"[{values[1]}]({row.results.submission.url})"
        lines.append("| " + " | ".join(values) + " |")
    lines += ["", f"![bits-per-byte against training FLOPs]({PLOT_FILE})"]
    if board.rejected:
        lines += ["", "Rejected:", ""]
        lines += [f"- `{rejected.folder.name}`: {_md(rejected.reason)}" for rejected in board.rejected]
    return "\n".join(lines) + "\n"


def html_page(board: Board) -> str:
    """The board as one HTML page, the plot beside it."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr"
        + (' class="frontier"' if row.frontier else "")
        + ">"
        + "".join(f"<td>{_html_cell(i, v, row)}</td>" for i, v in enumerate(cells(row)))
        + "</tr>"
        for row in board.rows
    )
    rejected = "".join(
        f"<li><code>{html.escape(r.folder.name)}</code>: {html.escape(r.reason)}</li>" for r in board.rejected
    )
    title = f"Speedrun board: {html.escape(board.track)} track"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:4px 8px}tr.frontier{background:#eef6ee}</style></head><body>"
        f"<h1>{title}</h1><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<p><img src='{PLOT_FILE}' alt='bits-per-byte against training FLOPs'></p>"
        + (f"<h2>Rejected</h2><ul>{rejected}</ul>" if rejected else "")
        + "</body></html>\n"
    )


def _html_cell(index: int, value: str, row: Row) -> str:
    url = row.results.submission.url
    if index == 1 and url:
        return f"<a href='{html.escape(url, quote=True)}'>{html.escape(value)}</a>"
    return html.escape(value)


def _md(text: str) -> str:
    """Table-safe Markdown: no pipes or line breaks inside a cell."""
    return text.replace("|", "\\|").replace("\n", " ")
