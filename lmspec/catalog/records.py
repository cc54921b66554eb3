"""What the runtime writes into the catalog, as typed records: a run starting, a step's artifact starting
(with its input edges) and ending, and the step record a published output keeps of itself. The store turns
them into rows; a misspelt column is a type error here instead of a database error mid-run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

STEP_RECORD_VERSION = 1
"""Version of `StepRecord.to_json`; a record of another version is not read back (rebuild reports it)."""


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
    pid: int
    """The run's process on `host`: once it is gone, a run still recorded as `running` was killed."""
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


type Series = dict[str, list[tuple[int, float]]]
"""Name -> [(step, value), ...]: a training run's loss curve, learning rate, throughput."""


@dataclass(frozen=True)
class StepRecord:
    """A published output's own account of itself (its `lmspec-step.json`): the run that made it, how its
    execution started and ended, and its series. Everything the catalog holds about the output, so a
    deleted catalog can be rebuilt from the outputs, and a record a killed run never wrote can be re-made."""

    run: RunStart
    start: ArtifactStart
    end: ArtifactEnd
    series: Series = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": STEP_RECORD_VERSION,
            "run": asdict(self.run),
            "artifact": asdict(self.start),
            "end": asdict(self.end),
            "series": self.series,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        """The record `to_json` wrote; ValueError for anything else (another version, a hand-edited file)."""
        if data.get("schema_version") != STEP_RECORD_VERSION:
            raise ValueError(f"step record version {data.get('schema_version')!r}, not {STEP_RECORD_VERSION}")
        try:
            series = {name: [(int(s), float(v)) for s, v in points] for name, points in data["series"].items()}
            return cls(RunStart(**data["run"]), ArtifactStart(**data["artifact"]), ArtifactEnd(**data["end"]), series)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"incomplete step record ({exc!r})") from None

    def moved_to(self, output_path: str) -> StepRecord:
        """This record for an output found at `output_path`: when its root was moved or copied since it was
        written, every path under the old root (output, inputs, logs) is rewritten under the new one."""
        old = self.start.output_path
        if old == output_path:
            return self
        old_root, new_root = old.rpartition("/")[0], output_path.rpartition("/")[0]

        def move(path: str) -> str:
            return new_root + path[len(old_root) :] if path.startswith(old_root + "/") else path

        start = replace(
            self.start,
            output_path=output_path,
            log_path=move(self.start.log_path),
            inputs={name: move(path) for name, path in self.start.inputs.items()},
        )
        end = replace(self.end, output_path=output_path, log_path=move(self.end.log_path))
        return replace(self, run=replace(self.run, root=new_root), start=start, end=end)
