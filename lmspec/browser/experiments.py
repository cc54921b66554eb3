"""An experiment as the browser shows it: one run from the catalog, joined with the experiment record the run
wrote (`<root>/experiments/<name>-<plan hash>.json`: the header, the resolved plan with estimates) and each
step's status on disk now.

Costs: the estimate is the plan's (each train step's `estimate.cost_usd`); the actual cost charges a train
step's measured duration at the same hourly price the estimate used.

What the catalog knows of the steps is read in a few queries per experiment (`queries.step_facts`), so a
list of fifty experiments of a hundred steps each costs the same handful of queries as one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmspec.browser.context import Browser, NotFound
from lmspec.browser.queries import StepFacts, artifacts_at, paths_of_runs, step_facts
from lmspec.catalog.report import _cell, _column_order, _shown
from lmspec.outputs.status import output_status
from lmspec.schemas.evaluation import Evaluate
from lmspec.schemas.kinds import kind_name

RECORDS_FOLDER = "experiments"
STATUSES = ("cached", "running", "failed", "pending", "unknown")


@dataclass(frozen=True)
class StepRow:
    """One step of a run's plan: where its output is, its status now, and its artifact if catalogued."""

    name: str
    kind: str
    hash: str
    inputs: list[str]
    output_path: str
    status: str
    artifact: StepFacts | None
    estimate: dict[str, Any] | None

    @property
    def actual_cost(self) -> float | None:
        """The step's measured hours at the estimate's hourly price (train steps with an estimate)."""
        if not self.estimate or not self.artifact or self.artifact.duration_s is None or not self.estimate["hours"]:
            return None
        return float(self.artifact.duration_s / 3600 * self.estimate["cost_usd"] / self.estimate["hours"])


@dataclass(frozen=True)
class Experiment:
    """A run of an experiment with its header and steps."""

    run: dict[str, Any]
    header: dict[str, Any]
    steps: list[StepRow]
    record_found: bool
    spec_lines: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.run["experiment"])

    def status_counts(self) -> dict[str, int]:
        counts = {status: sum(step.status == status for step in self.steps) for status in STATUSES}
        return {status: count for status, count in counts.items() if count}

    def estimated_cost(self) -> float | None:
        costs = [step.estimate["cost_usd"] for step in self.steps if step.estimate]
        return float(sum(costs)) if costs else None

    def actual_cost(self) -> float | None:
        costs = [cost for step in self.steps if (cost := step.actual_cost) is not None]
        return float(sum(costs)) if costs else None

    def step(self, name: str) -> StepRow:
        for row in self.steps:
            if row.name == name:
                return row
        raise NotFound(f"experiment `{self.name}` has no step `{name}`")


@dataclass(frozen=True)
class Report:
    """The evaluate steps side by side, as `lmspec report` shows them: metric columns, and rows of
    (evaluate step, model step, metric -> `value ± stderr`)."""

    columns: list[str]
    rows: list[tuple[StepRow, str, dict[str, str]]]


def experiment(browser: Browser, run: dict[str, Any], with_spec: bool = False) -> Experiment:
    """The run joined with its record and its steps' statuses (live from disk when under the root)."""
    return experiments(browser, [run], with_spec)[0]


def experiments(browser: Browser, runs: list[dict[str, Any]], with_spec: bool = False) -> list[Experiment]:
    """`experiment` for several runs, with the catalog read once for all of their steps."""
    records = [_record(browser, run) for run in runs]
    orphans = paths_of_runs(
        browser.catalog, [str(run["id"]) for run, record in zip(runs, records, strict=True) if not record]
    )
    paths = [step["output_path"] for record in records if record for step in record["plan"]["steps"]]
    facts = step_facts(browser.catalog, paths + [path for found in orphans.values() for path in found])
    shown = []
    for run, record in zip(runs, records, strict=True):
        lines = str(run["spec_text"]).splitlines() if with_spec else []
        if record is None:
            shown.append(_from_catalog(browser, run, [facts[p] for p in orphans[str(run["id"])] if p in facts], lines))
        else:
            steps = [_step_row(browser, step, facts.get(step["output_path"])) for step in record["plan"]["steps"]]
            shown.append(Experiment(run, dict(record["experiment"]), steps, True, lines))
    return shown


def _step_row(browser: Browser, step: dict[str, Any], facts: StepFacts | None) -> StepRow:
    """A step of a run's plan (as the experiment record has it)."""
    return StepRow(
        name=step["name"],
        kind=step["kind"],
        hash=step["hash"],
        inputs=list(step["inputs"]),
        output_path=step["output_path"],
        status=_status(browser, step["output_path"], step["status"]),
        artifact=facts,
        estimate=step.get("estimate"),
    )


def report(browser: Browser, shown: Experiment) -> Report:
    """The finished evaluate steps of `shown`, read in full from the catalog."""
    evaluations = [
        step
        for step in shown.steps
        if step.kind == kind_name(Evaluate) and step.artifact and step.artifact.status == "succeeded"
    ]
    records = artifacts_at(browser.catalog, [step.output_path for step in evaluations])
    metrics = {step.name: records[step.output_path].metrics for step in evaluations if step.output_path in records}
    columns = sorted({k for values in metrics.values() for k, v in values.items() if _shown(k, v)}, key=_column_order)
    rows = [
        (
            step,
            str(records[step.output_path].config.get("model", "")).removeprefix("@"),
            {k: _cell(metrics[step.name], k) for k in columns if k in metrics[step.name]},
        )
        for step in evaluations
        if step.name in metrics
    ]
    return Report(columns, rows)


def _from_catalog(browser: Browser, run: dict[str, Any], facts: list[StepFacts], lines: list[str]) -> Experiment:
    """Without a readable record (another root, a deleted folder): the run's artifacts in the catalog."""
    names = {fact.output_path: fact.step_name for fact in facts}
    steps = [
        StepRow(
            name=fact.step_name,
            kind=fact.kind,
            hash=fact.hash,
            inputs=sorted(names[p] for p in fact.inputs if p in names),
            output_path=fact.output_path,
            status=_status(browser, fact.output_path, "unknown"),
            artifact=fact,
            estimate=None,
        )
        for fact in sorted(facts, key=lambda fact: fact.step_name)
    ]
    return Experiment(run, {"name": run["experiment"]}, steps, False, lines)


def _record(browser: Browser, run: dict[str, Any]) -> dict[str, Any] | None:
    path = Path(str(run["root"])) / RECORDS_FOLDER / f"{run['experiment']}-{run['plan_hash']}.json"
    try:
        return dict(json.loads(browser.local(path).read_text(encoding="utf-8")))
    except (NotFound, OSError, ValueError):
        return None


def _status(browser: Browser, output_path: str, recorded: str) -> str:
    """The status on disk now for an output under the root; the recorded one for an output elsewhere.

    Only markers are looked at (no file is read), so the path is checked lexically against the root: a
    list of fifty experiments of a hundred steps costs a stat or two per step, not a path resolution.
    """
    path = os.path.normpath(output_path)
    if not path.startswith(f"{browser.root}{os.sep}"):
        return recorded
    return output_status(Path(path))
