"""The plan as text (a tree for people), JSON (for tools and tests), DOT and Mermaid (for pictures).

Statuses come in as an argument (`lmspec.outputs.status.plan_statuses` reads them from disk), so
rendering stays pure: the same plan and statuses give the same text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lmspec.compiler.estimates import TrainEstimate, train_estimates
from lmspec.compiler.hardware import ACCELERATORS, Accelerator, format_duration
from lmspec.compiler.maxtext import DEFAULT_VOCAB_SIZE
from lmspec.compiler.plan import Plan, Status, StepPlan

FORMATS = ("text", "json", "dot", "mermaid")

type Statuses = Mapping[str, Status]
"""Step name -> status."""

_STATUS_STYLE = {
    "cached": "green",
    "pending": "yellow",
    "if-inputs-change": "yellow dim",
    "queued": "cyan dim",
    "running": "cyan",
    "failed": "red",
    "abandoned": "magenta",
    "unknown": "dim",
}
_DOT_COLOR = {"cached": "darkgreen", "running": "blue", "failed": "red"}
_MERMAID_CLASS = {
    "cached": "fill:#d4f7d4,stroke:#2a2",
    "pending": "fill:#fff6d5,stroke:#c90",
    "if-inputs-change": "fill:#fffbea,stroke:#c90,stroke-dasharray:4",
    "queued": "fill:#eef7ff,stroke:#08c,stroke-dasharray:4",
    "running": "fill:#d5eeff,stroke:#08c",
    "failed": "fill:#fdd,stroke:#c22",
    "abandoned": "fill:#f5e1f7,stroke:#a3a",
    "unknown": "fill:#eee,stroke:#999",
}


def render(plan: Plan, fmt: str, statuses: Statuses, prices: dict[str, Accelerator] = ACCELERATORS) -> str:
    if fmt == "json":
        return json.dumps(plan_dict(plan, statuses, prices), indent=2)
    if fmt == "text":
        return _text(plan, statuses, prices)
    return _dot(plan, statuses) if fmt == "dot" else _mermaid(plan, statuses)


def plan_dict(plan: Plan, statuses: Statuses, prices: dict[str, Accelerator] = ACCELERATORS) -> dict[str, Any]:
    """The contract's JSON shape, plus each step's full validated config, and each train step's estimate."""
    estimates = train_estimates(plan, prices)
    overrides = {"overrides": list(plan.overrides)} if plan.overrides else {}
    return {
        "experiment": plan.experiment.name,
        "spec": plan.spec_file,
        "root": plan.root,
        **overrides,
        "steps": [
            {
                "name": step.name,
                "kind": step.kind,
                "hash": step.hash,
                "output_path": step.output_path,
                "inputs": list(step.inputs),
                "status": statuses[step.name],
                "config": step.config.model_dump(mode="json"),
                **_estimate_json(estimates.get(step.name)),
            }
            for step in plan.steps
        ],
    }


def _estimate_json(found: TrainEstimate | None) -> dict[str, Any]:
    if found is None:
        return {}
    return {
        "estimate": {**found.estimate.to_json(), "vocab_size_known": found.vocab_known},
        "launch_command": found.launch,
    }


def estimate_line(found: TrainEstimate) -> str:
    """`7.9M params · 41k tokens · 1.9e12 FLOPs · ~2.6 min, $0.01 on cpu` (vocabulary assumed: marked)."""
    e = found.estimate
    assumed = "" if found.vocab_known else f" (vocabulary read at run time; {DEFAULT_VOCAB_SIZE:,} assumed)"
    devices = f" ({e.slice.devices} devices)" if e.slice.devices > 1 else ""
    active = f" ({_si(e.active_parameters)} active)" if e.active_parameters is not None else ""
    return (
        f"{_si(e.parameters)} params{active} · {_si(e.tokens)} tokens · {e.flops:.1e} FLOPs · "
        f"~{format_duration(e.hours)}, ${e.cost:,.2f} on {e.slice.type}{devices}{assumed}"
    )


def _si(n: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(int(n))


def _dot(plan: Plan, statuses: Statuses) -> str:
    lines = [f'digraph "{plan.experiment.name}" {{', "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for step in plan.steps:
        color = _DOT_COLOR.get(statuses[step.name], "black")
        lines.append(f'  "{step.name}" [label="{step.name}\\n{step.kind} {step.hash}", color={color}];')
    lines += [f'  "{i}" -> "{step.name}";' for step in plan.steps for i in step.inputs]
    return "\n".join([*lines, "}"])


def _mermaid(plan: Plan, statuses: Statuses) -> str:
    lines = ["flowchart LR"]
    for step in plan.steps:
        lines.append(
            f'  {step.name}["{step.name}<br/>{step.kind} · {step.hash}"]:::{_mermaid_class(statuses[step.name])}'
        )
    lines += [f"  {i} --> {step.name}" for step in plan.steps for i in step.inputs]
    lines += [f"  classDef {_mermaid_class(status)} {style};" for status, style in _MERMAID_CLASS.items()]
    return "\n".join(lines)


def _mermaid_class(status: str) -> str:
    return status.replace("-", "_")  # a class name is a word


def _text(plan: Plan, statuses: Statuses, prices: dict[str, Accelerator]) -> str:
    from rich.console import Console

    console = Console(width=200, force_terminal=False)
    with console.capture() as capture:
        console.print(text_tree(plan, statuses, prices))
    return capture.get().rstrip()


def text_tree(plan: Plan, statuses: Statuses, prices: dict[str, Accelerator] = ACCELERATORS) -> Any:
    """Each final step as a tree of its inputs (a step already shown is named, not repeated); under each
    train step its estimate, and after the tree the launch command of every multi-host train step."""
    from rich.console import Group
    from rich.markup import escape
    from rich.tree import Tree

    estimates = train_estimates(plan, prices)
    by_name = {step.name: step for step in plan.steps}
    used = {i for step in plan.steps for i in step.inputs}
    shown: set[str] = set()

    def label(step: StepPlan) -> str:
        status = statuses[step.name]
        return f"[bold]{step.name}[/]  [dim]{step.kind}[/]  [cyan]{step.hash}[/]  [{_STATUS_STYLE[status]}]{status}[/]"

    def add(parent: Tree, step: StepPlan) -> None:
        if step.name in shown:
            parent.add(f"[bold]{step.name}[/] [dim](shown above)[/]")
            return
        shown.add(step.name)
        node = parent.add(label(step))
        if step.name in estimates:
            node.add(f"[magenta]{escape(estimate_line(estimates[step.name]))}[/]")
        for name in step.inputs:
            add(node, by_name[name])

    summary = ", ".join(f"{n} {s}" for s in _STATUS_STYLE if (n := sum(v == s for v in statuses.values())))
    tree = Tree(f"[bold]{plan.experiment.name}[/]  {len(plan.steps)} steps ({summary})  root: {plan.root}")
    if plan.overrides:
        tree.add(f"[magenta]overrides: {escape(' '.join(plan.overrides))}[/]")
    for step in plan.steps:
        if step.name not in used:
            add(tree, step)
    launches = [f"launch {name} (multi-host):\n  {escape(e.launch)}" for name, e in estimates.items() if e.launch]
    return Group(tree, *launches)
