"""How data steps run on Apache Beam: one pipeline per step, one element per shard.

The work is split into shard tasks (an input file or an input shard -> one output shard), so output
shards keep a stable order and content whatever the runner's bundling; each task writes its own shard
and pickles its result (its stats, a count, scores) to a file the driver reads after the pipeline:
a pipeline returns nothing to its driver on FnApiRunner, DirectRunner's worker processes or a Dask
cluster, but all of them share this file system. This is the shape the engine notes found fastest on
FnApiRunner and the one that works on DaskRunner (no ReadFromText / WriteToText).

A task is a frozen, module-level dataclass (each executor defines its own) and its function a
module-level function: Beam pickles both to send them to workers.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lmspec.errors import LmspecError
from lmspec.outputs.documents import DataError
from lmspec.schemas.base import Runner
from lmspec.schemas.beam_runners import runner as allowed_runner

RESULTS_DIR = "_task_results"
"""Scratch folder of the tasks' results under the folder a step runs its tasks in; removed afterwards."""


def pipeline_args(runner: Runner, workers: int | None) -> list[str]:
    """The Beam command-line options for a step's execution-only `runner` table."""
    found = allowed_runner(runner.name)
    if found is None:  # validation refuses such a spec; a plugin uninstalled since then lands here
        raise LmspecError(f"Beam runner `{runner.name}` is not installed (see lmspec.schemas.beam_runners)")
    args = [f"--runner={found.import_path}"]
    if workers and runner.name in ("FnApiRunner", "DirectRunner"):
        args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    for key, value in sorted(runner.options.items()):
        args.append(f"--{key}={str(value).lower() if isinstance(value, bool) else value}")
    return args


@dataclass(frozen=True)
class _Job[T]:
    """One Beam element: a task and the file its result goes to."""

    task: T
    result_file: Path


@dataclass(frozen=True)
class _Failed:
    """The result of a task that met bad data: its message, shown to the user as it is."""

    message: str


def run_shard_tasks[T, R](
    tasks: Sequence[T], process: Callable[[T], R], work_dir: Path, runner: Runner, workers: int | None
) -> list[R]:
    """Run `process(task)` for every task as a Beam pipeline; returns each task's result, in task order.

    A `DataError` in any task fails the step with the first such message (in task order, so the same one
    on every runner).
    """
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    results_dir = work_dir / RESULTS_DIR
    results_dir.mkdir(parents=True, exist_ok=True)
    jobs = [_Job(task, results_dir / f"{index:05d}.pickle") for index, task in enumerate(tasks)]
    with beam.Pipeline(options=PipelineOptions(pipeline_args(runner, workers))) as pipeline:
        _ = pipeline | "shard tasks" >> beam.Create(jobs) | "process shards" >> beam.Map(_run_job, process)
    results: list[R | _Failed] = [pickle.loads(job.result_file.read_bytes()) for job in jobs]
    shutil.rmtree(results_dir)
    failures = [result.message for result in results if isinstance(result, _Failed)]
    if failures:
        more = f" (and {len(failures) - 1} more shards failed)" if len(failures) > 1 else ""
        raise DataError(failures[0] + more)
    return [result for result in results if not isinstance(result, _Failed)]


def _run_job[T, R](job: _Job[T], process: Callable[[T], R]) -> None:
    """Bad data ends the task with its message recorded, so the user gets that message, not Beam's wrapper."""
    result: R | _Failed
    try:
        result = process(job.task)
    except DataError as exc:
        result = _Failed(str(exc))
    job.result_file.write_bytes(pickle.dumps(result))
