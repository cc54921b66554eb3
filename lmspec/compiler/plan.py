"""The compiled plan: a DAG of frozen step plans with hashes and output paths. Pure data: what is on disk
(a step's status) is read by `lmspec.outputs.status`, never here."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lmspec.errors import UsageError, did_you_mean
from lmspec.schemas import ExperimentHeader, StepBase

Status = Literal["cached", "pending", "if-inputs-change", "queued", "running", "failed", "abandoned", "unknown"]
"""What `lmspec compile` says about a step's output (`lmspec.outputs.status` reads it from disk)."""


@dataclass(frozen=True)
class StepPlan:
    """What to run for one step: a pure data object, not how to run it."""

    name: str
    kind: str
    config: StepBase
    inputs: tuple[str, ...]
    hash: str
    output_path: str
    fingerprint: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Plan:
    """Every step of an experiment in topological order (inputs first)."""

    spec_file: str
    experiment: ExperimentHeader
    root: str
    steps: tuple[StepPlan, ...]
    overrides: tuple[str, ...] = ()
    """The command-line `--set`/`--unset` edits the plan was compiled with, as written."""

    def step(self, name: str) -> StepPlan:
        return next(s for s in self.steps if s.name == name)


def is_url(path: str) -> bool:
    return "://" in path


def normalize_root(root: str) -> str:
    """Local roots become absolute (the catalog records real paths); URLs stay as given, minus a trailing /."""
    return root.rstrip("/") if is_url(root) else os.path.abspath(os.path.expanduser(root))


def join(root: str, name: str) -> str:
    return f"{root}/{name}" if is_url(root) else os.path.join(root, name)


def select(plan: Plan, only: tuple[str, ...] = (), until: tuple[str, ...] = ()) -> Plan:
    """The plan cut down to the steps `only` names and `until` names (names or globs such as `model_*`), each
    with every step upstream of it; unchanged when both are empty. Hashes do not change: a step's identity
    never depends on its dependents."""
    patterns = (*only, *until)
    if not patterns:
        return plan
    names = [s.name for s in plan.steps]
    chosen: set[str] = set()
    for pattern in patterns:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            raise UsageError(f"`{pattern}` matches no step of this plan{did_you_mean(pattern, names)}")
        chosen.update(matched)
    for step in reversed(plan.steps):  # dependents come after their inputs: one backward pass closes upstream
        if step.name in chosen:
            chosen.update(step.inputs)
    return replace(plan, steps=tuple(s for s in plan.steps if s.name in chosen))
