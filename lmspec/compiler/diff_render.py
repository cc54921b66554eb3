"""`lmspec diff` as text (a terminal), Markdown (a pull-request comment) and JSON (tools)."""

from __future__ import annotations

import json
from typing import Any

from lmspec.compiler.budget import show
from lmspec.compiler.diff import PlanDiff, StepChange
from lmspec.compiler.hardware import format_duration

DIFF_FORMATS = ("text", "markdown", "json")
ORDER = {"re-run": 0, "new": 1, "removed": 2, "reused": 3}


def render_diff(diff: PlanDiff, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(diff_json(diff), indent=2)
    return _markdown(diff) if fmt == "markdown" else _text(diff)


def summary(diff: PlanDiff) -> str:
    """`3 re-run, 1 new, 0 removed, 5 reused; what runs: $0.12, 0.0 accelerator-hours, 1.2e+15 FLOPs`."""
    counts = ", ".join(f"{diff.count(change)} {change}" for change in ORDER)  # type: ignore[arg-type]
    usd, hours, flops = diff.running_cost
    return f"{counts}; what runs costs ~${usd:,.2f}, {hours:,.1f} accelerator-hours, {flops:.2e} FLOPs"


def why(step: StepChange) -> str:
    if step.fields:
        return "; ".join(step.fields)
    if step.because:
        return "inputs change: " + ", ".join(f"`{name}`" for name in step.because)
    return ""


def state(step: StepChange) -> str:
    """`reused (cached)`, `re-run`, `new (running)`: the change, and the output's state where it was read."""
    return f"{step.change} ({step.status})" if step.status and step.status != "pending" else step.change


def cost(step: StepChange) -> str:
    if step.estimate is None or step.change in ("reused", "removed"):
        return ""
    e = step.estimate.estimate
    return f"${e.cost:,.2f}, ~{format_duration(e.hours)} on {e.slice.type}"


def _rows(diff: PlanDiff) -> list[StepChange]:
    return sorted(diff.steps, key=lambda s: ORDER[s.change])


def _budget_lines(diff: PlanDiff) -> list[str]:
    return [
        f"budget {limit}: {show(limit, used)} of {show(limit, value)} ({used / value:.0%})"
        for limit, (used, value) in diff.budget_used.items()
    ]


def _text(diff: PlanDiff) -> str:
    lines = [f"{diff.head.experiment.name}: {summary(diff)}"]
    for step in _rows(diff):
        detail = "  ".join(part for part in (why(step), cost(step)) if part)
        lines.append(f"  {state(step):<20} {step.name:<24} {step.kind:<16} {detail}".rstrip())
    return "\n".join([*lines, *_budget_lines(diff)])


def _markdown(diff: PlanDiff) -> str:
    lines = [
        f"### lmspec plan: `{diff.head.experiment.name}`",
        "",
        f"`{diff.base.spec_file}` -> `{diff.head.spec_file}`",
        "",
        f"**{summary(diff)}**",
        "",
        "| step | kind | change | why | estimated cost |",
        "|---|---|---|---|---|",
    ]
    for step in _rows(diff):
        reason = why(step).replace("|", "\\|")
        lines.append(f"| `{step.name}` | {step.kind} | {state(step)} | {reason} | {cost(step)} |")
    budget = _budget_lines(diff)
    return "\n".join([*lines, *([""] + [f"- {line}" for line in budget] if budget else [])]) + "\n"


def diff_json(diff: PlanDiff) -> dict[str, Any]:
    usd, hours, flops = diff.running_cost
    return {
        "experiment": diff.head.experiment.name,
        "base": diff.base.spec_file,
        "head": diff.head.spec_file,
        "counts": {change: diff.count(change) for change in ORDER},  # type: ignore[arg-type]
        "runs": {"usd": usd, "accelerator_hours": hours, "flops": flops},
        "budget": {limit: {"estimated": used, "limit": value} for limit, (used, value) in diff.budget_used.items()},
        "steps": [
            {
                "name": s.name,
                "kind": s.kind,
                "change": s.change,
                "status": s.status,
                "fields": list(s.fields),
                "because": list(s.because),
                "estimate": s.estimate.estimate.to_json() if s.estimate else None,
            }
            for s in _rows(diff)
        ],
    }
