"""Reusing a finished output instead of executing a step: early cutoff and the shared cache.

- Early cutoff: an earlier output of the same step, under this root, whose cutoff key equals this
  execution's (`lmspec.compiler.cutoff`): the same settings over inputs with the same bytes. An upstream
  step that re-ran and wrote what it wrote before therefore stops its dependents from running again.
- Shared cache (`lmspec run --cache URL`): the same output (same step name and hash) finished under
  another root, a local folder or an fsspec URL: a team shares what any of its roots computed.

Either way the files are placed in the step's attempt directory (hard-linked or copied, and the step's log
and record say which and from where), then published like any execution: the lease, attempt and atomic
publish stay as they are, so a reuse is as crash-safe as a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lmspec.compiler.cutoff import cutoff_key
from lmspec.compiler.plan import Plan, StepPlan, is_url, join
from lmspec.outputs.content import output_content, place
from lmspec.outputs.lifecycle import RESULT_NAME, SUCCESS_MARKER, is_complete, published_outputs, read_record
from lmspec.outputs.status import remote_exists
from lmspec.runtime.context import StepContext, StepResult

REUSED_FIELD = "reused"
"""The key, in a reused output's record, of where it came from and how (`Reuse.describe`)."""
CUTOFF_FIELD = "cutoff_key"


@dataclass(frozen=True)
class Reuse:
    """A finished output that can stand for this step's execution."""

    source: str
    reason: Literal["early cutoff", "shared cache"]

    def apply(self, context: StepContext[Any]) -> tuple[StepResult, dict[str, str]]:
        """Place the source's files in the attempt; its counts, metrics and series, and how it was placed."""
        how = place(self.source, context.output_dir)
        context.log.info("reused (%s): %s files from %s", self.reason, how, self.source)
        return _recorded_result(self.source), {"source": self.source, "reason": self.reason, "placement": how}


def execution_key(plan: Plan, step: StepPlan) -> str:
    """This execution's cutoff key, from its inputs' content (they are complete when a step executes)."""
    contents = {plan.step(name).hash: output_content(Path(plan.step(name).output_path)) for name in step.inputs}
    return cutoff_key(step.fingerprint, contents)


def find_reuse(plan: Plan, step: StepPlan, key: str, cache: str | None) -> Reuse | None:
    """The shared cache's copy of this very output, else an earlier output with the same cutoff key."""
    if cache is not None:
        cached = join(cache, Path(step.output_path).name)
        if _complete(cached):
            return Reuse(cached, "shared cache")
    output = Path(step.output_path)
    for earlier in published_outputs(output.parent):
        same_step = earlier != output and earlier.name.rpartition("-")[0] == step.name
        if same_step and (read_record(earlier) or {}).get(CUTOFF_FIELD) == key:
            return Reuse(str(earlier), "early cutoff")
    return None


def _complete(output: str) -> bool:
    return remote_exists(join(output, SUCCESS_MARKER)) if is_url(output) else is_complete(Path(output))


def _recorded_result(source: str) -> StepResult:
    """What the source's record says the execution counted and measured (empty when it has no record)."""
    record = _read_source_record(source)
    end = record.get("end") or {}
    series = {name: [(int(s), float(v)) for s, v in points] for name, points in (record.get("series") or {}).items()}
    return StepResult(counts=dict(end.get("counts") or {}), metrics=dict(end.get("metrics") or {}), series=series)


def _read_source_record(source: str) -> dict[str, Any]:
    if not is_url(source):
        return read_record(Path(source)) or {}
    import fsspec

    try:
        with fsspec.open(f"{source}/{RESULT_NAME}", "rt", encoding="utf-8") as f:
            found = json.load(f)
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}
