"""What the runtime writes into the catalog, as typed records: a run starting, a step's artifact starting
(with its input edges) and ending. The store turns them into rows; a misspelt column is a type error here
instead of a database error mid-run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class RunStart:
    """One `lmspec run` as it starts (recorded as `running`; `Catalog.finish_run` records how it ended)."""

    id: str
    experiment: str
    spec_path: str
    spec_text: str
    plan_hash: str
    root: str
    git_commit: str | None
    user: str
    host: str
    started_at: float
    versions: dict[str, str | None]
    """Package -> installed version (None when not installed): lmspec and the engines."""


@dataclass(frozen=True)
class ArtifactStart:
    """A step's output as its execution starts (recorded as `running`), with the outputs it reads."""

    output_path: str
    hash: str
    step_name: str
    kind: str
    experiment: str
    run_id: str
    config: dict[str, Any]
    fingerprint: dict[str, Any]
    started_at: float
    log_path: str
    """The attempt's log, while it runs."""
    inputs: dict[str, str]
    """Input step name -> its output path."""


@dataclass(frozen=True)
class ArtifactEnd:
    """How a step's execution ended; updates the artifact its `ArtifactStart` recorded."""

    output_path: str
    status: Literal["succeeded", "failed"]
    finished_at: float
    duration_s: float
    log_path: str
    """Where the log is now: in the output, or in the kept failed attempt."""
    counts: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    """The last lines of the error, for a failed step."""
