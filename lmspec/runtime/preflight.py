"""Checks before a run executes anything: better a clear refusal now than a failure hours into the run.

Every executor is installed, no step asks for more memory than this machine has, and no Beam runner
setting starts local processes unless the person running lmspec allowed it (`--allow-runner-processes`):
a spec is data, and running someone's spec from a pull request must not run their commands.
"""

from __future__ import annotations

import os

from lmspec.compiler.plan import StepPlan
from lmspec.errors import UsageError
from lmspec.runtime.registry import executor_for
from lmspec.schemas.base import DataStepBase
from lmspec.schemas.beam_runners import process_reasons


def preflight(pending: list[StepPlan], allow_runner_processes: bool) -> None:
    """Raise UsageError naming every step that cannot run here, and why; `pending` are the steps to execute."""
    _executors(pending)
    _memory(pending)
    _launchers(pending)
    if not allow_runner_processes:
        _runner_processes(pending)


def _runner_processes(pending: list[StepPlan]) -> None:
    found = [
        f"{step.name} ({reason})"
        for step in pending
        if isinstance(step.config, DataStepBase)
        for reason in process_reasons(step.config.runner.name, step.config.runner.options)
    ]
    if found:
        raise UsageError(
            f"these steps' Beam runner settings start processes on this machine: {'; '.join(found)}. "
            "If you trust the spec, run it with `lmspec run --allow-runner-processes`."
        )


def _launchers(pending: list[StepPlan]) -> None:
    from lmspec.runtime.launchers import preflight_problems

    if found := preflight_problems(pending):
        raise UsageError(
            f"these steps' launchers cannot submit jobs from here: {'; '.join(found)}. Set them up, or run the "
            "steps here with `--set steps.STEP.resources.launcher=local`."
        )


def _executors(pending: list[StepPlan]) -> None:
    missing: dict[str, list[str]] = {}
    for step in pending:
        if executor_for(type(step.config)) is None:
            missing.setdefault(step.kind, []).append(step.name)
    if missing:
        listing = "; ".join(f"{kind} (steps: {', '.join(names)})" for kind, names in sorted(missing.items()))
        raise UsageError(
            f"no executor is installed for these step kinds: {listing}. "
            "Executors arrive with lmspec's engine modules, or register your own through $LMSPEC_PLUGINS."
        )


MEMORY_UNITS = {
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}


def memory_bytes(text: str) -> int:
    """`16GiB`, `1.5 GB` -> bytes (KB..TB are powers of 1000, KiB..TiB of 1024), as `resources.memory` takes."""
    unit = text[-3:] if text.endswith("iB") else text[-2:]
    return int(float(text[: -len(unit)]) * MEMORY_UNITS[unit])


def physical_memory() -> int:
    """Bytes of RAM on this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _memory(pending: list[StepPlan]) -> None:
    """Refuse the run before anything executes when a step asks for more memory than this machine has:
    better now than an out-of-memory kill hours into the run."""
    machine = physical_memory()
    short = [
        f"{step.name} (resources.memory = {memory!r})"
        for step in pending
        if (memory := step.config.resources.memory) is not None and memory_bytes(memory) > machine
    ]
    if short:
        raise UsageError(
            f"not enough memory on this machine ({machine / 1024**3:.1f} GiB) for: {', '.join(short)}. "
            "Run the spec on a machine with more memory, or lower `resources.memory` if the step needs less."
        )
