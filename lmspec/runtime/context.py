"""What an executor receives (where its inputs are, where to write) and what it returns."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmspec.compiler.plan import StepPlan


@dataclass(frozen=True)
class StepContext:
    """One step's execution: read `inputs`, write everything under `output_dir`, log to `log`.

    `output_dir` is a temporary sibling of the final output path; the runtime renames it into
    place and writes the success marker only after the executor returns.
    """

    step: StepPlan
    inputs: dict[str, Path]
    """Input step name -> its completed output directory."""
    output_dir: Path
    spec_dir: Path
    """Directory of the spec file: relative paths in the config are relative to it."""
    log: logging.Logger
    resume_dir: Path
    """Beside the output, kept across failed or killed attempts (checkpoints to resume from); removed once
    the step succeeds, and cleared when the step is forced."""


@dataclass
class StepResult:
    """Counts (documents in/out, tokens, ...) and metrics (loss, bpb, ...) recorded in the catalog."""

    counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    """Per-step values (loss curve, learning rate, throughput), stored in the catalog's series table."""
