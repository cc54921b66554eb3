"""Budgets: `[experiment] budget = { usd = 100, gpu_hours = 50, flops = 1e20 }` against the plan's estimates.

A plan that is estimated to cost more than its budget is refused by `validate` and `compile`, naming the
steps that spend it, before anything runs: the pretraining plans our users write start from "$100".
"""

from __future__ import annotations

from lmspec.compiler.estimates import TrainEstimate, train_estimates
from lmspec.compiler.hardware import Accelerator, Estimate
from lmspec.compiler.plan import Plan

LIMITS = {"usd": "dollars", "gpu_hours": "accelerator-hours", "flops": "training FLOPs"}


def spent(estimate: Estimate, limit: str) -> float:
    """What one training run spends of one kind of limit."""
    if limit == "usd":
        return estimate.cost
    if limit == "gpu_hours":
        return 0.0 if estimate.slice.accelerator.family == "cpu" else estimate.hours * estimate.slice.devices
    return estimate.flops


def budget_use(plan: Plan, prices: dict[str, Accelerator]) -> dict[str, tuple[float, float]]:
    """Each limit the experiment sets -> (the plan's estimate, the limit)."""
    budget = plan.experiment.budget
    if budget is None:
        return {}
    estimates = train_estimates(plan, prices)
    return {
        limit: (sum(spent(e.estimate, limit) for e in estimates.values()), value)
        for limit in LIMITS
        if (value := getattr(budget, limit)) is not None
    }


def budget_problems(plan: Plan, prices: dict[str, Accelerator]) -> list[tuple[str, str]]:
    """(limit, message) for every limit the plan's estimate exceeds, naming the steps that spend it."""
    estimates = train_estimates(plan, prices)
    return [
        (limit, _over(limit, used, value, estimates))
        for limit, (used, value) in budget_use(plan, prices).items()
        if used > value
    ]


def _over(limit: str, used: float, value: float, estimates: dict[str, TrainEstimate]) -> str:
    costs = sorted(((spent(e.estimate, limit), name) for name, e in estimates.items()), reverse=True)
    steps = ", ".join(f"{name} {show(limit, cost)}" for cost, name in costs if cost > 0)
    return (
        f"the plan's training is estimated at {show(limit, used)}, over this budget of {show(limit, value)} "
        f"({steps}); lower steps, tokens or model sizes, or raise the budget"
    )


def show(limit: str, amount: float) -> str:
    if limit == "usd":
        return f"${amount:,.2f}"
    if limit == "gpu_hours":
        return f"{amount:,.1f} accelerator-hours"
    return f"{amount:.2e} FLOPs"
