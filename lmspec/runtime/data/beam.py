"""How data steps run on Apache Beam: one pipeline per step, one element per shard.

The work is split into shard tasks (an input file or an input shard -> one output shard), so output
shards keep a stable order and content whatever the runner's bundling; each task writes its own shard
and a small stats file, which the driver merges after the pipeline. This is the shape the engine notes
found fastest on FnApiRunner and the one that works on DaskRunner (no ReadFromText / WriteToText).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RUNNER_ALIASES = {
    "FnApiRunner": "apache_beam.runners.portability.fn_api_runner.FnApiRunner",
    "DaskRunner": "apache_beam.runners.dask.dask_runner.DaskRunner",
}
"""Short names for runners whose import path users should not need to know. The default is named in
full because Beam's own default first tries to download the Prism runner from the internet."""

STATS_DIR = "_stats"


def pipeline_args(runner: dict[str, Any], workers: int | None) -> list[str]:
    """The Beam command-line options for a step's execution-only `runner` table."""
    name = runner.get("name", "FnApiRunner")
    args = [f"--runner={RUNNER_ALIASES.get(name, name)}"]
    if workers and name in ("FnApiRunner", "DirectRunner"):
        args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    for key, value in sorted(runner.get("options", {}).items()):
        args.append(f"--{key}={str(value).lower() if isinstance(value, bool) else value}")
    return args


def run_shard_tasks(
    tasks: list[dict[str, Any]],
    process: Callable[[dict[str, Any]], dict[str, Any]],
    output_dir: Path,
    runner: dict[str, Any],
    workers: int | None,
) -> list[dict[str, Any]]:
    """Run `process(task)` for every task as a Beam pipeline; returns each task's stats, in task order.

    `process` must be a module-level function (Beam pickles it) that writes its outputs under the
    task's paths and returns a JSON-able stats dict.
    """
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    stats_dir = output_dir / STATS_DIR
    stats_dir.mkdir(parents=True, exist_ok=True)
    for index, task in enumerate(tasks):
        task["_stats_path"] = str(stats_dir / f"{index:05d}.json")
    options = PipelineOptions(pipeline_args(runner, workers))
    with beam.Pipeline(options=options) as pipeline:
        shard_tasks = beam.Create(tasks)
        process_shards = beam.Map(_process_and_record, process)
        _ = pipeline | "shard tasks" >> shard_tasks | "process shards" >> process_shards
    results = [json.loads(Path(task["_stats_path"]).read_text()) for task in tasks]
    for path in stats_dir.iterdir():
        path.unlink()
    stats_dir.rmdir()
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        from lmspec.outputs.documents import DataError

        more = f" (and {len(errors) - 1} more shards failed)" if len(errors) > 1 else ""
        raise DataError(errors[0] + more)
    return results


def _process_and_record(task: dict[str, Any], process: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Bad data ends the task with its message recorded, so the user gets that message, not Beam's wrapper."""
    from lmspec.outputs.documents import DataError

    try:
        stats = process(task)
    except DataError as exc:
        stats = {"error": str(exc)}
    Path(task["_stats_path"]).write_text(json.dumps(stats))
