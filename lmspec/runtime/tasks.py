"""The Luigi side: one task per plan step. Only this module imports luigi.

Task identity is (step name, step hash), so two `lmspec run` processes of the same plan that talk
to one central scheduler (luigid) agree on which task is which and each step runs once.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import luigi
import luigi.setup_logging

from lmspec.compiler.plan import Plan


class StepRunner(Protocol):
    """What a task needs from the run (the runner's `RunContext`): the plan, and how to judge and run a step."""

    plan: Plan

    def is_complete(self, name: str) -> bool: ...

    def execute(self, name: str) -> None: ...


_RUN: StepRunner | None = None
"""The run this process is executing; set by `build` (forked Luigi workers inherit it)."""


class LmspecStep(luigi.Task):
    """Complete when the step's success marker exists; `run` executes it under its lease."""

    step_name = luigi.Parameter()
    step_hash = luigi.Parameter()

    def requires(self) -> list[LmspecStep]:
        assert _RUN is not None
        return [task_for(_RUN, name) for name in _RUN.plan.step(self.step_name).inputs]

    def complete(self) -> bool:
        assert _RUN is not None
        return _RUN.is_complete(self.step_name)

    def run(self) -> None:
        assert _RUN is not None
        _RUN.execute(self.step_name)


def task_for(run: StepRunner, name: str) -> LmspecStep:
    return LmspecStep(step_name=name, step_hash=run.plan.step(name).hash)  # type: ignore[no-untyped-call]


def build(run: StepRunner, targets: list[str], workers: int, scheduler: tuple[str, int] | None, log_file: str) -> Any:
    """Run `targets` (and what they need) with Luigi; the caller judges success by the outputs."""
    global _RUN
    _RUN = run
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("luigi", "luigi-interface", "luigi.scheduler", "luigi.worker"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    # Luigi would add its own console handler; its log goes to `log_file`, the user sees lmspec's progress.
    luigi.setup_logging.InterfaceLogging._configured = True
    options: dict[str, Any] = {
        "workers": workers,
        "detailed_summary": True,
        "no_lock": True,  # two runs of the same spec at once are coordinated by step leases instead
    }
    if scheduler is None:
        options["local_scheduler"] = True
    else:
        options.update(local_scheduler=False, scheduler_host=scheduler[0], scheduler_port=scheduler[1])
    try:
        return luigi.build([task_for(run, name) for name in targets], **options)  # type: ignore[no-untyped-call]
    finally:
        handler.close()
