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
from lmspec.schemas.training import MaxTextTraining


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

        return SlurmBackend(resources.slurm or SlurmOptions()), _hosts(resources)
    if resources.launcher == "ray":
        from lmspec.runtime.launchers.ray import RayBackend

        return RayBackend(resources.ray or RayOptions()), _hosts(resources)
    from lmspec.runtime.launchers.xpk import XpkBackend

    assert resources.xpk is not None  # the schema requires the table with launcher = "xpk"
    return XpkBackend(resources.xpk, resolve_slice(resources.model_dump())), _hosts(resources)


def _hosts(resources: Resources) -> int:
    """The hosts a job spans: Slurm's `nodes`, Ray's `hosts`, XPK's slice."""
    if resources.launcher == "slurm":
        return (resources.slurm or SlurmOptions()).nodes
    if resources.launcher == "ray":
        return (resources.ray or RayOptions()).hosts
    return resolve_slice(resources.model_dump()).hosts


def _hosts_problem(step: StepPlan) -> list[str]:
    """A job must span the hosts the step uses: one for a data step, its slice's for a training step (whose
    MaxText flags, per-device batch included, are lowered for that slice); other counts would leave hosts
    idle or start independent trainers over one checkpoint directory."""
    resources = step.config.resources
    wanted = resolve_slice(resources.model_dump()).hosts if isinstance(step.config, MaxTextTraining) else 1
    got = _hosts(resources)
    if got == wanted:
        return []
    field = "slurm.nodes" if resources.launcher == "slurm" else "ray.hosts"
    return [f"{field} = {got}, but the step runs on {wanted} host{'s' * (wanted != 1)}: set {field} = {wanted}"]


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
        found += [f"{step.name} ({problem})" for problem in [*checked[key], *_hosts_problem(step)]]
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
