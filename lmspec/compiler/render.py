"""The plan as text (a tree for people), JSON (for tools and tests), DOT and Mermaid (for pictures)."""

from __future__ import annotations

import json
from typing import Any

from lmspec.compiler.plan import Plan, StepPlan

FORMATS = ("text", "json", "dot", "mermaid")

_STATUS_STYLE = {"cached": "green", "pending": "yellow", "running": "cyan", "failed": "red"}


def render(plan: Plan, fmt: str) -> str:
    renderers = {"json": _json, "dot": _dot, "mermaid": _mermaid, "text": _text}
    return renderers[fmt](plan)


def plan_dict(plan: Plan) -> dict[str, Any]:
    """The contract's JSON shape, plus each step's full validated config."""
    return {
        "experiment": plan.experiment.name,
        "spec": plan.spec_file,
        "root": plan.root,
        "steps": [
            {
                "name": step.name,
                "kind": step.kind,
                "hash": step.hash,
                "output_path": step.output_path,
                "inputs": list(step.inputs),
                "status": plan.status(step),
                "config": step.config.model_dump(mode="json"),
            }
            for step in plan.steps
        ],
    }


def _json(plan: Plan) -> str:
    return json.dumps(plan_dict(plan), indent=2)


def _dot(plan: Plan) -> str:
    lines = [f'digraph "{plan.experiment.name}" {{', "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for step in plan.steps:
        color = {"cached": "darkgreen"}.get(plan.status(step), "black")
        lines.append(f'  "{step.name}" [label="{step.name}\\n{step.kind} {step.hash}", color={color}];')
    lines += [f'  "{i}" -> "{step.name}";' for step in plan.steps for i in step.inputs]
    return "\n".join([*lines, "}"])


def _mermaid(plan: Plan) -> str:
    lines = ["flowchart LR"]
    for step in plan.steps:
        lines.append(f'  {step.name}["{step.name}<br/>{step.kind} · {step.hash}"]:::{plan.status(step)}')
    lines += [f"  {i} --> {step.name}" for step in plan.steps for i in step.inputs]
    lines += ["  classDef cached fill:#d4f7d4,stroke:#2a2;", "  classDef pending fill:#fff6d5,stroke:#c90;"]
    return "\n".join(lines)


def _text(plan: Plan) -> str:
    from rich.console import Console

    console = Console(width=200, force_terminal=False)
    with console.capture() as capture:
        console.print(text_tree(plan))
    return capture.get().rstrip()


def text_tree(plan: Plan) -> Any:
    """Each final step as a tree of its inputs (a rich Tree); a step already shown is named, not repeated."""
    from rich.tree import Tree

    statuses = {step.name: plan.status(step) for step in plan.steps}
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
        for name in step.inputs:
            add(node, by_name[name])

    summary = ", ".join(f"{n} {s}" for s in _STATUS_STYLE if (n := sum(v == s for v in statuses.values())))
    tree = Tree(f"[bold]{plan.experiment.name}[/]  {len(plan.steps)} steps ({summary})  root: {plan.root}")
    for step in plan.steps:
        if step.name not in used:
            add(tree, step)
    return tree
