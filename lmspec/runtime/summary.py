"""How a run ended, step by step: judged from the outputs and the catalog after Luigi returns, and told
to the user at the end of `lmspec run`."""

from __future__ import annotations

from pathlib import Path

from lmspec.catalog import Catalog
from lmspec.compiler.plan import Plan
from lmspec.outputs.lifecycle import is_complete, read_record
from lmspec.runtime.provenance import RunSummary
from lmspec.runtime.reuse import REUSED_FIELD

ERROR_TAIL_LINES = 8
"""Lines of a failed step's error kept in the catalog and shown in the summary."""


def summarize(plan: Plan, before: dict[str, bool], catalog: Catalog, run_id: str, started: float) -> RunSummary:
    """Judge each step by its output (not Luigi's status code) and the catalog's records since `started`
    (a step another process failed during this run counts as failed here too)."""
    summary = RunSummary(run_id)
    for step in plan.steps:
        if before[step.name] and is_complete(Path(step.output_path)):  # cached: no record to read
            summary.status[step.name] = "cached"
            continue
        record = catalog.find(step.output_path)
        if is_complete(Path(step.output_path)):
            summary.status[step.name] = "cached" if before[step.name] else _made_now(Path(step.output_path))
            skipped = (record.counts or {}).get("skipped", 0) if record is not None and not before[step.name] else 0
            if skipped:
                summary.records_skipped[step.name] = skipped
            continue
        if record is not None and record.status == "failed" and (record.finished_at or 0) >= started:
            summary.status[step.name] = "failed"
            summary.failures[step.name] = (record.log_path or "", record.error or "")
        else:
            summary.status[step.name] = "skipped"
    return summary


def _made_now(output: Path) -> str:
    """`reused` when this run placed an earlier output's files (early cutoff, shared cache), else `done`."""
    return "reused" if (read_record(output) or {}).get(REUSED_FIELD) else "done"


def describe(summary: RunSummary) -> list[str]:
    """The end-of-run summary: counts, then every failed step with its log and error, then skipped steps."""
    counts: dict[str, int] = {}
    for state in summary.status.values():
        counts[state] = counts.get(state, 0) + 1
    lines = [f"{len(summary.status)} steps: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    for name, (log, error) in summary.failures.items():
        lines.append(f"FAILED {name}: log {log}")
        lines.extend(f"    {line}" for line in error.splitlines()[-ERROR_TAIL_LINES:])
    lines.extend(
        f'{name}: {count} bad record{"s" * (count != 1)} skipped (on_error = "skip"); the first reasons are in '
        "its stats.json"
        for name, count in summary.records_skipped.items()
    )
    skipped = [n for n, s in summary.status.items() if s == "skipped"]
    if skipped:
        lines.append(f"skipped because an input failed: {', '.join(skipped)}")
    lines.append(f"experiment record: {summary.record_path}")
    return lines
