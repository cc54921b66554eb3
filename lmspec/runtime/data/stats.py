"""A data step's end: its shard tasks' stats summed into the output's stats, and into the catalog's counts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lmspec.outputs.documents import DocumentStats
from lmspec.runtime.context import StepResult


def finish(output_dir: Path, shard_stats: list[DocumentStats], started: float, **counts: int) -> StepResult:
    """Write the output's stats (with the step's own `counts` added); return them as the catalog's record.

    Counts are the stats' top-level integers; metrics are the per-rule counts, the first errors and the
    executor's own seconds since `started` (in the catalog only: the output's files must be the same bytes
    for the same input, whatever the time it took).
    """
    stats = DocumentStats.total(shard_stats)
    stats.counts.update(counts)
    stats.write(output_dir)
    catalog_counts = {k: v for k, v in stats.to_json().items() if isinstance(v, int) and not isinstance(v, bool)}
    metrics: dict[str, Any] = {"seconds": round(time.time() - started, 3)}
    if stats.rules:
        metrics["rules"] = stats.rules
    if stats.errors:
        metrics["first_errors"] = stats.errors[:5]
    return StepResult(counts=catalog_counts, metrics=metrics)
