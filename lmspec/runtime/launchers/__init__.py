"""Where a step's executor runs: here (`launcher = "local"`), or as a job of a cluster scheduler a team already
has (Slurm, Ray, GKE through XPK). `resources.launcher` chooses; it is execution-only, never part of a hash.

`lmspec run` keeps the lease, the attempt directory and the atomic publish whatever the launcher: a job only
runs the executor into the attempt directory on a shared filesystem (`base` says how the two sides talk).
Each scheduler is one module, imported only when a step uses it.
"""

from __future__ import annotations

from typing import Any

from lmspec.compiler.hardware import resolve_slice
from lmspec.compiler.plan import StepPlan
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.launchers.base import Backend, Report, run_as_job
from lmspec.runtime.launchers.local import run_here
from lmspec.runtime.registry import Executor
from lmspec.schemas.base import RayOptions, Resources, SlurmOptions


def launch(context: StepContext[Any], executor: Executor[Any], report: Report) -> StepResult:
    """Run `executor` on `context` where the step's `resources.launcher` says; `report` shows queued/running."""
    resources = context.spec.resources
    if resources.launcher == "local":
        return run_here(context, executor)
    backend, hosts = _backend(resources)
    return run_as_job(backend, context, hosts, report)


def _backend(resources: Resources) -> tuple[Backend, int]:
    """The scheduler of a non-local launcher, and the hosts its job spans."""
    if resources.launcher == "slurm":
        from lmspec.runtime.launchers.slurm import SlurmBackend

        slurm = resources.slurm or SlurmOptions()
        return SlurmBackend(slurm), slurm.nodes
    if resources.launcher == "ray":
        from lmspec.runtime.launchers.ray import RayBackend

        ray = resources.ray or RayOptions()
        return RayBackend(ray), ray.hosts
    from lmspec.runtime.launchers.xpk import XpkBackend

    assert resources.xpk is not None  # the schema requires the table with launcher = "xpk"
    hardware = resolve_slice(resources.model_dump())
    return XpkBackend(resources.xpk, hardware), hardware.hosts


def preflight_problems(pending: list[StepPlan]) -> list[str]:
    """`step (why)` for each step whose launcher cannot submit from here; checked before anything runs."""
    found = []
    checked: dict[str, list[str]] = {}
    for step in pending:
        resources = step.config.resources
        if resources.launcher == "local":
            continue
        key = resources.model_dump_json()
        if key not in checked:
            checked[key] = _launcher_problems(resources)
        found += [f"{step.name} ({problem})" for problem in checked[key]]
    return found


def _launcher_problems(resources: Resources) -> list[str]:
    import shutil

    if resources.launcher == "slurm":
        return [] if shutil.which("sbatch") else ['launcher = "slurm" but `sbatch` is not installed here']
    if resources.launcher == "ray":
        return []  # Ray is installed with lmspec; an unreachable cluster is reported by the step itself
    from lmspec.runtime.launchers.xpk import preflight_problems as xpk_problems

    assert resources.xpk is not None
    return [f'launcher = "xpk": {problem}' for problem in xpk_problems(resources.xpk)]


__all__ = ["launch", "preflight_problems"]
