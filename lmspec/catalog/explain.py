"""`lmspec explain`: why a step has its hash, field by field against its latest earlier artifact."""

from __future__ import annotations

from typing import Any

from lmspec.catalog.store import Catalog
from lmspec.compiler.identity import fingerprint_diff
from lmspec.compiler.plan import Plan
from lmspec.outputs.status import step_status


def data_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """`input data changed: data/x.jsonl` for each raw input whose content fingerprint differs."""
    old, new = before.get("data", {}), after.get("data", {})
    verbs = {(True, True): "changed", (False, True): "added", (True, False): "removed"}
    return [
        f"input data {verbs[(path in old, path in new)]}: {path}"
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path)
    ]


def explain(plan: Plan, step_name: str, catalog: Catalog) -> list[str]:
    step = plan.step(step_name)
    lines = [f"{step.name} ({step.kind}) hash {step.hash} -> {step.output_path} [{step_status(plan, step)}]"]
    previous = catalog.latest_other(step.name, step.output_path)
    if previous is None:
        lines.append(f"no earlier artifact of step `{step.name}` in the catalog: nothing to compare with")
        return lines
    lines.append(f"compared with {previous.hash} ({previous.status}, run {previous.run_id}) at {previous.output_path}")
    changes = [*data_changes(previous.fingerprint, step.fingerprint)]
    changes += fingerprint_diff({**previous.fingerprint, "data": {}}, {**step.fingerprint, "data": {}})
    lines.extend(f"  {line}" for line in changes)
    for name in step.inputs:
        now = plan.step(name)
        old_path = previous.inputs.get(name)
        if old_path is not None and old_path != now.output_path:
            lines.append(
                f"  input `{name}` changed: {old_path} -> {now.output_path} (see `lmspec explain SPEC {name}`)"
            )
    if not changes:
        lines.append("  no field differs (the identity schema or an input's identity changed)")
    return lines
