"""`lmspec report SPEC`: an experiment's evaluations side by side, and what a reviewer needs to trust them.

Rows are evaluate steps (one per model or data variant, sweep points included), columns are metrics,
cells `value ± stderr` (a suite's tasks show the metric the suite reports them by, plus its average).
Below the table: every pair of variants compared on the same items (difference ± stderr, p-value, and
whether it is significant after Holm's correction: `lmspec.catalog.compare`), the fields in which the
variants' specs differ (`spec_diff`), training and validation loss curves, and loss against compute
with a fitted power law when the models span enough training budgets (`plots`). Rendered as Markdown
(for a pull request) and HTML, with the figures, by `report_render.write_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmspec.catalog.compare import BITS_PER_BYTE, Comparison, Variant, compare_variants
from lmspec.catalog.plots import Curve, PowerLaw, ScalingPoint, fit_power_law
from lmspec.catalog.spec_diff import FieldDiff, spec_diff
from lmspec.catalog.store import Catalog
from lmspec.compiler.estimates import planned_vocab
from lmspec.compiler.hardware import parameter_count
from lmspec.compiler.plan import Plan, StepPlan
from lmspec.errors import UsageError
from lmspec.outputs.metrics import STDERR_SUFFIX, Metrics
from lmspec.schemas import ExperimentHeader
from lmspec.schemas.base import ref_name
from lmspec.schemas.evaluation import SUITES, Evaluate
from lmspec.schemas.kinds import kind_name
from lmspec.schemas.training import MaxTextTraining

MISSING = "n/a"
HIDDEN_SUFFIXES = ("/documents",)
"""Metrics recorded for bookkeeping, not comparison."""
LABEL_COLUMNS = (kind_name(Evaluate), "model")
"""The columns that name a row (left-aligned in tables); the metric columns follow."""
CURVES = ("loss", "eval_loss")


@dataclass(frozen=True)
class Row:
    """One finished evaluate step: its name, the model step it scores, its metrics from the catalog."""

    step: str
    model: str
    metrics: dict[str, float]


@dataclass
class Report:
    """The comparison of one experiment's evaluate steps."""

    experiment: ExperimentHeader
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    differences: list[FieldDiff] = field(default_factory=list)
    curves: dict[str, dict[str, Curve]] = field(default_factory=dict)
    """model step -> series name (`loss`, `eval_loss`) -> points."""
    scaling: list[ScalingPoint] = field(default_factory=list)
    law: PowerLaw | None = None

    @property
    def header(self) -> list[str]:
        """Column titles: the evaluate step, the model step it scores, then the metrics."""
        return [*LABEL_COLUMNS, *self.columns]

    def cells(self, row: Row) -> list[str]:
        """One row's cells in column order."""
        return [row.step, row.model, *(_cell(row.metrics, c) for c in self.columns)]


def build_report(plan: Plan, catalog: Catalog) -> Report:
    """Collect every finished evaluate step of `plan`, compare them, and gather the models' curves."""
    evaluations = [step for step in plan.steps if isinstance(step.config, Evaluate)]
    if not evaluations:
        raise UsageError(f"{plan.spec_file} has no evaluate step to report")
    rows = _rows(plan, catalog, evaluations)
    if not rows:
        raise UsageError(f"no evaluate step of {plan.spec_file} has finished: run `lmspec run {plan.spec_file}` first")
    steps = [plan.step(row.step) for row in rows]
    report = Report(plan.experiment, _columns(rows, steps))
    report.rows = rows
    report.comparisons = compare_variants([_variant(s) for s in steps], _compared(steps))
    report.differences = spec_diff(plan, [row.step for row in rows]) if len(rows) > 1 else []
    models = list(dict.fromkeys(_model(plan, s) for s in steps))
    report.curves = {m.name: c for m in models if (c := _curves(catalog, m))}
    report.scaling = [p for m in models if (p := _scaling_point(plan, m, report.curves.get(m.name, {})))]
    report.law = fit_power_law(report.scaling)
    return report


def _rows(plan: Plan, catalog: Catalog, evaluations: list[StepPlan]) -> list[Row]:
    """The evaluate steps that have succeeded, with their metrics from the catalog."""
    rows = []
    for step in evaluations:
        record = catalog.find(step.output_path)
        if record is not None and record.status == "succeeded":
            rows.append(Row(step.name, _model(plan, step).name, record.metrics))
    return rows


def _model(plan: Plan, step: StepPlan) -> StepPlan:
    """The train step an evaluate step scores."""
    assert isinstance(step.config, Evaluate)  # rows are evaluate steps
    return plan.step(ref_name(step.config.model))


def _columns(rows: list[Row], steps: list[StepPlan]) -> list[str]:
    """Every metric with a value, bookkeeping and a suite's unreported metrics left out, in column order."""
    shown = {
        key
        for row, step in zip(rows, steps, strict=True)
        for key, value in row.metrics.items()
        if _shown(key, value) and _reported(step.config, key)
    }
    return sorted(shown, key=_column_order)


def _reported(config: object, key: str) -> bool:
    """False for the metrics of a suite's task other than the one the suite reports it by
    (`arc_challenge/acc` when the suite reports `acc_norm`)."""
    if not isinstance(config, Evaluate) or config.lm_eval is None or config.lm_eval.suite is None:
        return True
    task, _, metric = key.partition("/")
    reported = {t.name: t.metric for t in SUITES[config.lm_eval.suite]}
    return task not in reported or metric.removesuffix(STDERR_SUFFIX) == reported[task]


def _variant(step: StepPlan) -> Variant:
    """An evaluate step's per-item scores, for every perplexity set and task it ran."""
    assert isinstance(step.config, Evaluate)
    output = Metrics(Path(step.output_path))
    names = [s.name for s in step.config.perplexity_sets()] + (
        step.config.lm_eval.task_names if step.config.lm_eval else []
    )
    return Variant(step.name, {name: items for name in names if (items := output.items(name))})


def _compared(steps: list[StepPlan]) -> dict[str, dict[str, bool]]:
    """Set or task -> compared metric -> higher is better: bits-per-byte of each perplexity set, and each
    task's metrics (only the reported one for a suite's task), oriented as lm-eval says."""
    compared: dict[str, dict[str, bool]] = {}
    for step in steps:
        assert isinstance(step.config, Evaluate)
        compared.update({s.name: {BITS_PER_BYTE: False} for s in step.config.perplexity_sets()})
        output = Metrics(Path(step.output_path))
        better = output.lm_eval().get("higher_is_better", {})
        for task in step.config.lm_eval.task_names if step.config.lm_eval else []:
            scored = {m for scores in (output.items(task) or {}).values() for m in scores}
            shown = [m for m in sorted(scored) if _reported(step.config, f"{task}/{m}")]
            compared.setdefault(task, {}).update({m: better.get(task, {}).get(m.split(":")[0], True) for m in shown})
    return compared


def _curves(catalog: Catalog, model: StepPlan) -> dict[str, Curve]:
    series = catalog.series(model.output_path)
    return {name: series[name] for name in CURVES if series.get(name)}


def _scaling_point(plan: Plan, model: StepPlan, curves: dict[str, Curve]) -> ScalingPoint | None:
    """A trained model's parameters (counted as `lmspec compile` counts them), tokens and final loss, if it
    has a curve."""
    training, loss = model.config, curves.get("eval_loss") or curves.get("loss")
    if not isinstance(training, MaxTextTraining) or not loss:
        return None
    parameters = parameter_count(training.model.model_dump(), planned_vocab(plan, training)[0])
    return ScalingPoint(model.name, parameters, training.total_tokens, loss[-1][1], "eval_loss" in curves)


def _shown(key: str, value: object) -> bool:
    return isinstance(value, int | float) and not key.endswith(STDERR_SUFFIX) and not key.endswith(HIDDEN_SUFFIXES)


def _column_order(key: str) -> tuple[int, str]:
    """Bits-per-byte first, then perplexities, then suite averages, then lm-eval tasks, each alphabetical."""
    rank = 0 if key.endswith("/bits_per_byte") else 1 if key.endswith("/perplexity") else 2
    return (rank if rank < 2 else 2 if key.endswith("/average") else 3), key


def _cell(values: dict[str, float], key: str) -> str:
    if key not in values:
        return MISSING
    value, stderr = values[key], values.get(key + STDERR_SUFFIX)
    return f"{value:.4f} ± {stderr:.4f}" if isinstance(stderr, int | float) else f"{value:.4f}"
