"""`stats.json` of a data step: documents and bytes in and out, skips with their reasons, time."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lmspec.runtime.context import StepResult

MAX_ERRORS_KEPT = 20


def merge(shard_stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum counters across shards (nested dicts of counters too); keep the first errors."""
    total: dict[str, Any] = {"errors": []}
    for stats in shard_stats:
        for key, value in stats.items():
            if key == "errors":
                total["errors"].extend(value[: MAX_ERRORS_KEPT - len(total["errors"])])
            elif isinstance(value, dict):
                bucket = total.setdefault(key, {})
                for name, counts in value.items():
                    inner = bucket.setdefault(name, {})
                    for k, v in counts.items():
                        inner[k] = inner.get(k, 0) + v
            elif isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + value
    return total


def finish(output_dir: Path, shard_stats: list[dict[str, Any]], started: float) -> StepResult:
    """Write stats.json and turn its top-level counters into the catalog's counts."""
    stats = merge(shard_stats)
    stats["shards"] = len(shard_stats)
    stats["seconds"] = round(time.time() - started, 3)
    (output_dir / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True))
    counts = {k: int(v) for k, v in stats.items() if isinstance(v, int) and not isinstance(v, bool)}
    metrics = {k: v for k, v in stats.items() if isinstance(v, dict)}
    if stats["errors"]:
        metrics["first_errors"] = stats["errors"][:5]
    return StepResult(counts=counts, metrics=metrics)
