"""The compiled plan: a DAG of frozen step plans with hashes, output paths and statuses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from lmspec.schemas import ExperimentHeader, StepBase

SUCCESS_MARKER = "_SUCCESS"
"""A step is complete when its output directory holds this file (written last, after an atomic rename)."""

Status = Literal["cached", "pending", "running", "failed"]


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

    def step(self, name: str) -> StepPlan:
        return next(s for s in self.steps if s.name == name)

    def status(self, step: StepPlan) -> Status:
        """`cached` when the output's success marker exists, else `pending` (the runtime adds the others)."""
        return "cached" if _exists(join(step.output_path, SUCCESS_MARKER)) else "pending"


def is_url(path: str) -> bool:
    return "://" in path


def normalize_root(root: str) -> str:
    """Local roots become absolute (the catalog records real paths); URLs stay as given, minus a trailing /."""
    return root.rstrip("/") if is_url(root) else os.path.abspath(os.path.expanduser(root))


def join(root: str, name: str) -> str:
    return f"{root}/{name}" if is_url(root) else os.path.join(root, name)


def _exists(path: str) -> bool:
    if not is_url(path):
        return os.path.exists(path)
    import fsspec  # only remote roots pay for it

    fs, inner = fsspec.core.url_to_fs(path)
    return bool(fs.exists(inner))
