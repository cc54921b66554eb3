"""`lmspec diff`: what a spec change re-runs, reuses and costs, for a reviewer (Terraform's plan, for experiments).

Steps are matched by name. A head step whose hash the base plan also has is *reused*; one whose name is new is
*new*; a base step whose name and hash are both gone is *removed*; the rest *re-run*, each with its root cause:
the fields of its own config that changed, or, when only its inputs changed, the upstream steps whose own
fields did (never a bare "input changed"). The cost is the training estimate of what re-runs or is new.
Pure: statuses (is a reused step's output already on disk?) are given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lmspec.compiler.estimates import TrainEstimate
from lmspec.compiler.identity import fingerprint_diff
from lmspec.compiler.plan import Plan, Status, StepPlan

Change = Literal["new", "removed", "reused", "re-run"]


@dataclass(frozen=True)
class StepChange:
    """One step's fate under the change."""

    name: str
    kind: str
    change: Change
    fields: tuple[str, ...] = ()
    """`config.rules[0].max: 0.8 -> 0.7`, for a step whose own config (or input data) changed."""
    because: tuple[str, ...] = ()
    """For a step re-run only through its inputs: the upstream steps whose own fields changed."""
    status: Status | None = None
    """The head step's output state (cached, running, failed, pending), when the caller read it."""
    estimate: TrainEstimate | None = None


@dataclass(frozen=True)
class PlanDiff:
    """Every step's change, head order first, then removed steps; with the cost of what runs."""

    base: Plan
    head: Plan
    steps: tuple[StepChange, ...]
    budget_used: dict[str, tuple[float, float]] = field(default_factory=dict)
    """`usd`/`gpu_hours`/`flops` -> (estimated for the head plan, budget), for the limits the head sets."""

    def count(self, change: Change) -> int:
        return sum(step.change == change for step in self.steps)

    @property
    def running_cost(self) -> tuple[float, float, float]:
        """(dollars, device-hours, FLOPs) of the train steps that re-run or are new."""
        runs = [s.estimate.estimate for s in self.steps if s.estimate and s.change in ("new", "re-run")]
        return (sum(e.cost for e in runs), sum(e.hours * e.slice.devices for e in runs), sum(e.flops for e in runs))


def diff_plans(
    base: Plan,
    head: Plan,
    estimates: dict[str, TrainEstimate],
    statuses: dict[str, Status] | None = None,
    budget_used: dict[str, tuple[float, float]] | None = None,
) -> PlanDiff:
    """Compare two compiled plans of (two versions of) one experiment; `estimates` are the head's."""
    base_by_name = {s.name: s for s in base.steps}
    base_hashes = {s.hash for s in base.steps}
    own: dict[str, tuple[str, ...]] = {}
    reused: set[str] = set()
    changes: list[StepChange] = []
    for step in head.steps:
        before = base_by_name.get(step.name)
        estimate, status = estimates.get(step.name), (statuses or {}).get(step.name)
        if step.hash in base_hashes or before is None:
            change: Change = "reused" if step.hash in base_hashes else "new"
            reused.update([step.name] if change == "reused" else [])
            changes.append(StepChange(step.name, step.kind, change, status=status, estimate=estimate))
            continue
        own[step.name] = tuple(own_field_changes(before.fingerprint, step.fingerprint))
        because = () if own[step.name] else _root_causes(head, step, own, reused)
        changes.append(StepChange(step.name, step.kind, "re-run", own[step.name], because, status, estimate))
    head_names, head_hashes = {s.name for s in head.steps}, {s.hash for s in head.steps}
    changes += [
        StepChange(s.name, s.kind, "removed")
        for s in base.steps
        if s.name not in head_names and s.hash not in head_hashes
    ]
    return PlanDiff(base, head, tuple(changes), budget_used or {})


def _root_causes(head: Plan, step: StepPlan, own: dict[str, tuple[str, ...]], reused: set[str]) -> tuple[str, ...]:
    """The nearest upstream steps that re-run because their own config or data changed (or that are new)."""
    found: list[str] = []
    seen: set[str] = set()
    stack = list(step.inputs)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in own:  # reused upstream is no cause; a new one is
            found.extend([name] if name not in reused else [])
        elif own[name]:
            found.append(name)
        else:
            stack.extend(head.step(name).inputs)
    return tuple(sorted(found))


def own_field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Field-level differences of two fingerprints, ignoring input hashes (`@<hash>` references): those are
    the consequence of an upstream change, not a change of this step."""
    return fingerprint_diff(_without_refs(before), _without_refs(after))


def _without_refs(value: Any) -> Any:
    if isinstance(value, dict):
        return {("@" if _is_ref(k) else k): _without_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_refs(v) for v in value]
    return "@" if _is_ref(value) else value


def _is_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("@") and len(value) == 13  # "@" + a 12-hex hash
