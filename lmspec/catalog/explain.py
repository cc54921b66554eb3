"""`lmspec explain`: why a step has its hash, field by field against its latest earlier artifact."""

from __future__ import annotations

from typing import Any

from lmspec.catalog.store import Catalog
from lmspec.compiler.diff import own_field_changes
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
    changes += own_field_changes({**previous.fingerprint, "data": {}}, {**step.fingerprint, "data": {}})
    lines.extend(f"  {line}" for line in changes)
    causes = _upstream_causes(plan, step.name, previous.inputs, catalog, set())
    lines.extend(f"  {line}" for line in causes)
    if not changes and not causes:
        lines.append("  no field differs (the identity schema or an input's identity changed)")
    return lines


def _upstream_causes(
    plan: Plan, step_name: str, old_inputs: dict[str, str], catalog: Catalog, seen: set[str]
) -> list[str]:
    """For each input that changed, the root cause: the nearest upstream steps whose own fields or data
    changed, with those fields (`because clean changed: config.rules[3].min_words: 20 -> 21`), found by
    walking back through the artifacts the earlier execution read."""
    lines = []
    for name in plan.step(step_name).inputs:
        now, old_path = plan.step(name), old_inputs.get(name)
        if old_path is None or old_path == now.output_path or name in seen:
            continue
        seen.add(name)
        old = catalog.find(old_path)
        if old is None:
            lines.append(f"input `{name}` changed: {old_path} -> {now.output_path} (see `lmspec explain SPEC {name}`)")
            continue
        own = data_changes(old.fingerprint, now.fingerprint)
        own += own_field_changes({**old.fingerprint, "data": {}}, {**now.fingerprint, "data": {}})
        if own:
            lines.append(f"because `{name}` changed:")
            lines.extend(f"  {line}" for line in own)
        else:
            lines.extend(_upstream_causes(plan, name, old.inputs, catalog, seen))
    return lines
