"""`lmspec report SPEC`: the evaluate steps of an experiment side by side, from the catalog.

Rows are evaluate steps (one per model or data variant, sweep points included), columns are metrics,
cells are `value ± stderr` where lm-eval gave a stderr. The table is printed, and written as Markdown and
HTML beside a PNG of the training loss curves of the models the rows evaluate.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from lmspec.catalog.store import Catalog
from lmspec.compiler.plan import Plan
from lmspec.errors import UsageError
from lmspec.schemas.evaluation import Evaluate
from lmspec.schemas.kinds import kind_name

STDERR_SUFFIX = "_stderr"
MISSING = "n/a"
HIDDEN_SUFFIXES = ("/documents",)
"""Metrics recorded for bookkeeping, not comparison."""
LABEL_COLUMNS = (kind_name(Evaluate), "model")
"""The columns that name a row (left-aligned in tables); the metric columns follow."""


@dataclass
class Report:
    """The comparison of one experiment's evaluate steps."""

    experiment: str
    columns: list[str]
    rows: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    """(evaluate step, model step, metric -> formatted cell)."""
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """model step -> its training loss curve."""

    @property
    def header(self) -> list[str]:
        """Column titles: the evaluate step, the model step it scores, then the metrics."""
        return [*LABEL_COLUMNS, *self.columns]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        for step, model, cells in self.rows:
            lines.append("| " + " | ".join(self.cells(step, model, cells)) + " |")
        return f"# {self.experiment}\n\n" + "\n".join(lines) + "\n"

    def cells(self, step: str, model: str, cells: dict[str, str]) -> list[str]:
        """One row's cells in column order."""
        return [step, model, *(cells.get(c, MISSING) for c in self.columns)]

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in self.cells(*row)) + "</tr>" for row in self.rows
        )
        style = "table{border-collapse:collapse;font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px 8px}"
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.experiment)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(self.experiment)}</h1>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            "<p><img src='loss.png' alt='training loss curves'></p></body></html>\n"
        )


def build_report(plan: Plan, catalog: Catalog) -> Report:
    """Collect every finished evaluate step of `plan` and the loss curves of the models they evaluate."""
    evaluations = [step for step in plan.steps if isinstance(step.config, Evaluate)]
    if not evaluations:
        raise UsageError(f"{plan.spec_file} has no evaluate step to report")
    found: dict[str, tuple[str, dict[str, float]]] = {}
    curves: dict[str, list[tuple[int, float]]] = {}
    for step in evaluations:
        record = catalog.find(step.output_path)
        if record is None or record.status != "succeeded":
            continue
        assert isinstance(step.config, Evaluate)
        model = plan.step(step.config.model[1:])
        found[step.name] = (model.name, record.metrics)
        if loss := catalog.series(model.output_path).get("loss"):
            curves[model.name] = loss
    if not found:
        raise UsageError(f"no evaluate step of {plan.spec_file} has finished: run `lmspec run {plan.spec_file}` first")
    shown = {k for _, values in found.values() for k, v in values.items() if _shown(k, v)}
    report = Report(plan.experiment.name, sorted(shown, key=_column_order), curves=curves)
    for name, (model_name, values) in found.items():
        report.rows.append((name, model_name, {k: _cell(values, k) for k in report.columns if k in values}))
    return report


def write_report(report: Report, folder: Path) -> dict[str, Path]:
    """report.md, report.html and loss.png (when there are curves) under `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": folder / "report.md", "html": folder / "report.html"}
    paths["markdown"].write_text(report.markdown(), encoding="utf-8")
    paths["html"].write_text(report.html(), encoding="utf-8")
    if report.curves:
        paths["png"] = folder / "loss.png"
        _plot(report.curves, paths["png"], report.experiment)
    return paths


def _plot(curves: dict[str, list[tuple[int, float]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=120)
    for name, points in sorted(curves.items()):
        axes.plot([s for s, _ in points], [v for _, v in points], label=name, linewidth=1.2)
    axes.set(xlabel="step", ylabel="training loss", title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _shown(key: str, value: object) -> bool:
    return isinstance(value, int | float) and not key.endswith(STDERR_SUFFIX) and not key.endswith(HIDDEN_SUFFIXES)


def _column_order(key: str) -> tuple[int, str]:
    """Bits-per-byte first, then perplexities, then lm-eval tasks, each alphabetical."""
    rank = 0 if key.endswith("/bits_per_byte") else 1 if key.endswith("/perplexity") else 2
    return rank, key


def _cell(values: dict[str, float], key: str) -> str:
    value = values[key]
    stderr = values.get(key + STDERR_SUFFIX)
    return f"{value:.4f} ± {stderr:.4f}" if isinstance(stderr, int | float) else f"{value:.4f}"
