"""A report as Markdown (a pull-request comment; `report.md`) and as a standalone HTML page (`report.html`).

Both render the same sections from the same tables, so they never disagree: the experiment's description
and issue, the results, the pairwise comparisons with a plain verdict for each, what differs between the
variants, and the figures (`images`: the key of each figure written, loss curves and scaling, -> its file
name beside the report).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from lmspec.catalog.compare import Comparison
from lmspec.catalog.plots import plot_curves, plot_scaling
from lmspec.catalog.report import LABEL_COLUMNS, Report
from lmspec.catalog.stats import ALPHA

FIGURES = {"png": "training (solid) and validation (dashed) loss", "scaling": "final loss against training compute"}
STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}.ns{color:#777}.scroll{overflow-x:auto}"
)


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


def results_table(report: Report) -> Table:
    return Table(report.header, [report.cells(row) for row in report.rows])


def comparisons_table(comparisons: list[Comparison]) -> Table:
    header = ["metric", "A", "B", "A - B ± stderr", "p", "p (Holm)", "test", "verdict"]
    rows = [
        [
            c.metric,
            c.a,
            c.b,
            f"{c.difference.value:+.4f} ± {c.difference.stderr:.4f}",
            _p(c.difference.p_value),
            _p(c.adjusted_p),
            f"{c.difference.test}, {c.difference.items} items",
            c.verdict,
        ]
        for c in comparisons
    ]
    return Table(header, rows)


def differences_table(report: Report) -> Table:
    rows = [[path, *values] for path, values in report.differences]
    return Table(["field", *(row.step for row in report.rows)], rows)


def summary(comparisons: list[Comparison]) -> str:
    """One sentence a reviewer can quote."""
    if not comparisons:
        return "No two variants scored the same items, so none is compared."
    total, significant = len(comparisons), sum(c.significant for c in comparisons)
    test = f"at alpha = {ALPHA} after Holm's correction for {total} comparisons"
    noise = "within noise: not evidence that either variant is better"
    if significant == total:
        return f"All {total} differences are significant {test}."
    if significant == 0:
        return f"None of the {total} differences is significant {test}: all are {noise}."
    rest = total - significant
    verb = "is" if rest == 1 else "are"
    return f"{significant} of {total} differences are significant {test}; the other {rest} {verb} {noise}."


def to_markdown(report: Report, images: dict[str, str]) -> str:
    header = report.experiment
    lines = [f"# {header.name}", ""]
    lines += [header.description, ""] if header.description else []
    lines += [f"Issue: {header.issue}", ""] if header.issue else []
    lines += ["## Results", "", *_markdown_table(results_table(report)), ""]
    lines += ["## Pairwise comparisons (same items)", "", summary(report.comparisons), ""]
    lines += [*_markdown_table(comparisons_table(report.comparisons)), ""] if report.comparisons else []
    if report.differences:
        lines += ["## What differs between the variants", "", *_markdown_table(differences_table(report)), ""]
    if report.law is not None:
        lines += [f"Scaling: {report.law.describe()}.", ""]
    lines += [f"![{FIGURES[key]}]({name})" for key, name in images.items()]
    return "\n".join(lines).rstrip() + "\n"


def to_html(report: Report, images: dict[str, str]) -> str:
    header = report.experiment
    title = html.escape(header.name)
    parts = [f"<h1>{title}</h1>"]
    parts += [f"<p>{html.escape(header.description)}</p>"] if header.description else []
    parts += [f"<p>Issue: {_link(header.issue)}</p>"] if header.issue else []
    parts += ["<h2>Results</h2>", _html_table(results_table(report))]
    parts += ["<h2>Pairwise comparisons (same items)</h2>", f"<p>{html.escape(summary(report.comparisons))}</p>"]
    parts += [_html_table(comparisons_table(report.comparisons))] if report.comparisons else []
    if report.differences:
        parts += ["<h2>What differs between the variants</h2>", _html_table(differences_table(report))]
    if report.law is not None:
        parts += [f"<p>Scaling: {html.escape(report.law.describe())}.</p>"]
    parts += [f"<p><img src='{html.escape(name)}' alt='{FIGURES[key]}'></p>" for key, name in images.items()]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def write_report(report: Report, folder: Path) -> dict[str, Path]:
    """report.md, report.html, loss.png (when there are curves) and scaling.png (when a power law was fitted)
    under `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": folder / "report.md", "html": folder / "report.html"}
    if report.curves:
        paths["png"] = folder / "loss.png"
        plot_curves(report.curves, paths["png"], report.experiment.name)
    if report.law is not None:
        paths["scaling"] = folder / "scaling.png"
        plot_scaling(report.scaling, report.law, paths["scaling"], report.experiment.name)
    images = {name: path.name for name, path in paths.items() if name in ("png", "scaling")}
    paths["markdown"].write_text(to_markdown(report, images), encoding="utf-8")
    paths["html"].write_text(to_html(report, images), encoding="utf-8")
    return paths


def print_report(report: Report) -> None:
    """The results and the comparisons as console tables, then the one-sentence verdict."""
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(width=200)
    titled = [(f"{report.experiment.name}: evaluations", results_table(report), len(LABEL_COLUMNS))]
    if report.comparisons:
        titled.append(("pairwise comparisons on the same items", comparisons_table(report.comparisons), 3))
    for title, table, labels in titled:
        rich = RichTable(title=title)
        for index, column in enumerate(table.header):
            rich.add_column(column, justify="left" if index < labels else "right")
        for row in table.rows:
            rich.add_row(*row)
        console.print(rich)
    console.print(summary(report.comparisons))


def _markdown_table(table: Table) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(table.header), "|" + "---|" * len(table.header), *(line(row) for row in table.rows)]


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.header)
    body = "".join(
        f"<tr{_row_class(row)}>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in table.rows
    )
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _row_class(row: list[str]) -> str:
    """Greys out comparisons that are within noise."""
    return " class='ns'" if row and row[-1] == "not significant" else ""


def _link(issue: str) -> str:
    """An issue URL as a link; anything else (`#42`, a ticket id) as text."""
    text = html.escape(issue)
    return f"<a href='{text}'>{text}</a>" if issue.startswith(("https://", "http://")) else text


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"
