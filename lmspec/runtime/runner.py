"""`lmspec run`: execute a plan on Luigi, record everything in the catalog, report what happened."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lmspec.catalog import ArtifactEnd, ArtifactStart, Catalog, RunStart, StepRecord, default_catalog_url
from lmspec.catalog.recovery import abandon_orphans, abandon_previous, restore_missing
from lmspec.compiler.plan import Plan, StepPlan, is_url
from lmspec.errors import LmspecError, UsageError, did_you_mean
from lmspec.outputs.content import CONTENT_FIELD, content_fingerprint
from lmspec.outputs.lifecycle import (
    LOG_NAME,
    Lease,
    attempt_dir,
    attempt_path,
    invalidate,
    is_complete,
    keep_failed,
    kill_point,
    lease_active,
    publish,
    resume_dir,
    tidy,
)
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.launchers import launch
from lmspec.runtime.openlineage import OpenLineageEmitter
from lmspec.runtime.preflight import preflight
from lmspec.runtime.progress import Progress
from lmspec.runtime.provenance import (
    RunSummary,
    git_commit,
    plan_hash,
    user,
    uuid7,
    versions,
    write_experiment_record,
)
from lmspec.runtime.registry import executor_for
from lmspec.runtime.reuse import CUTOFF_FIELD, REUSED_FIELD, execution_key, find_reuse
from lmspec.runtime.summary import ERROR_TAIL_LINES, summarize


class StepFailed(LmspecError):
    """Raised inside the Luigi task so Luigi skips the step's dependents; details are in the catalog."""


@dataclass
class RunContext:
    """Everything a step execution needs; inherited by forked Luigi workers."""

    plan: Plan
    spec_dir: Path
    run: RunStart
    catalog: Catalog
    lineage: OpenLineageEmitter
    progress: Progress
    cache: str | None = None
    """`--cache`: another root whose finished outputs this run reuses instead of executing them."""
    forced: frozenset[str] = frozenset()
    """`--force`d steps: executed, never reused."""

    def is_complete(self, name: str) -> bool:
        return is_complete(Path(self.plan.step(name).output_path))

    def execute(self, name: str) -> None:
        """Execute `name` unless another process did or does: the lease decides who runs it."""
        step = self.plan.step(name)
        output = Path(step.output_path)
        lease = Lease(output)
        while not lease.try_acquire():
            if is_complete(output):
                self.progress.update(name, "done", "by another run")
                return
            time.sleep(0.2)
        try:
            if is_complete(output):
                self.progress.update(name, "done", "by another run")
                return
            self._attempt(step, output, lease)
        finally:
            lease.release()

    def _attempt(self, step: StepPlan, output: Path, lease: Lease) -> None:
        executor = executor_for(type(step.config))
        if executor is None:  # checked before the run; a plugin may still vanish between processes
            raise StepFailed(f"no executor for step kind `{step.kind}`")
        inputs = {name: self.plan.step(name).output_path for name in step.inputs}
        if lease.took_over:
            abandon_previous(self.catalog, step.output_path)
        key = execution_key(self.plan, step)
        reuse = None if step.name in self.forced else find_reuse(self.plan, step, key, self.cache)
        reused: dict[str, str] | None = None
        start = self._record_start(step, inputs, attempt_path(output, lease.token) / LOG_NAME)
        tmp = attempt_dir(output, lease.token, clear_leftovers=lease.took_over)
        log, handler = _step_logger(step, tmp / LOG_NAME)
        lineage_run = uuid7()
        self.lineage.emit("START", lineage_run, step, inputs)
        self.progress.update(step.name, "running")
        log.info("step %s (%s) hash %s -> %s", step.name, step.kind, step.hash, step.output_path)
        kill_point(output, "started")
        try:
            context = StepContext(
                step=step,
                spec=step.config,
                input_kinds={name: self.plan.step(name).config.output for name in step.inputs},
                inputs={n: Path(p) for n, p in inputs.items()},
                output_dir=tmp,
                spec_dir=self.spec_dir,
                log=log,
                resume_dir=resume_dir(output),
            )
            with _engine_logs_to(handler):
                if reuse is not None:
                    result, reused = reuse.apply(context)
                else:
                    result = launch(context, executor, lambda state: self.progress.update(step.name, state))
        except BaseException as exc:  # Ctrl-C too: its attempt is kept as failed, not left as `.tmp-*`
            log.error("step failed:\n%s", traceback.format_exc())
            handler.close()
            kept = keep_failed(tmp, output)
            tail = "\n".join(traceback.format_exception_only(exc)[-ERROR_TAIL_LINES:]).strip()
            self.catalog.finish_artifact(_ended(start, "failed", kept / LOG_NAME, error=tail))
            self.lineage.emit("FAIL", lineage_run, step, inputs, error=tail)
            self.progress.update(step.name, "failed", tail.splitlines()[-1] if tail else "")
            if not isinstance(exc, Exception):
                raise
            raise StepFailed(f"step {step.name} failed: {tail}") from exc
        kill_point(output, "executed")
        log.info("done in %.2f s; counts %s; metrics %s", time.time() - start.started_at, result.counts, result.metrics)
        handler.close()
        end = _ended(start, "succeeded", output / LOG_NAME, result)
        record = StepRecord(self.run, start, end, result.series).to_json()
        record.update({CONTENT_FIELD: content_fingerprint(tmp), CUTOFF_FIELD: key, REUSED_FIELD: reused})
        publish(tmp, output, record)
        kill_point(output, "completed")
        self.catalog.finish_artifact(end)
        if result.series:
            self.catalog.record_series(step.output_path, result.series)
        self.lineage.emit("COMPLETE", lineage_run, step, inputs)
        self.progress.update(step.name, "reused" if reused else "done", reused["reason"] if reused else "")

    def _record_start(self, step: StepPlan, inputs: dict[str, str], log: Path) -> ArtifactStart:
        """Record `step`'s execution as running (replacing an earlier record of the same output)."""
        start = ArtifactStart(
            output_path=step.output_path,
            hash=step.hash,
            step_name=step.name,
            kind=step.kind,
            experiment=self.plan.experiment.name,
            run_id=self.run.id,
            config=step.config.model_dump(mode="json"),
            fingerprint=step.fingerprint,
            started_at=time.time(),
            log_path=str(log),
            inputs=inputs,
        )
        self.catalog.record_artifact(start)
        return start


def _ended(
    start: ArtifactStart,
    status: Literal["succeeded", "failed"],
    log: Path,
    result: StepResult | None = None,
    error: str | None = None,
) -> ArtifactEnd:
    """How the execution that `start` recorded ended, now."""
    finished = time.time()
    done = result or StepResult()
    return ArtifactEnd(
        output_path=start.output_path,
        status=status,
        finished_at=finished,
        duration_s=finished - start.started_at,
        log_path=str(log),
        counts=done.counts,
        metrics=done.metrics,
        error=error,
    )


def run_plan(
    plan: Plan,
    spec_path: Path,
    *,
    catalog_url: str | None,
    workers: int = 1,
    scheduler: tuple[str, int] | None = None,
    force: tuple[str, ...] = (),
    live: bool = False,
    allow_runner_processes: bool = False,
    cache: str | None = None,
) -> RunSummary:
    """Execute every step of `plan` that is not complete; never raises for a failed step (see the summary)."""
    if is_url(plan.root):
        raise UsageError(f"lmspec run writes to local or mounted roots only for now; got {plan.root}")
    root = Path(plan.root)
    forced = _downstream(plan, force)
    before = {s.name: s.name not in forced and is_complete(Path(s.output_path)) for s in plan.steps}
    to_run = [s for s in plan.steps if not before[s.name]]
    preflight(to_run, allow_runner_processes)
    catalog = Catalog(catalog_url or default_catalog_url(str(root))).open()
    run = _start_run(plan, spec_path, catalog)  # before anything changes on disk: a catalog may refuse it
    for name in forced:
        invalidate(Path(plan.step(name).output_path))
    _settle_cached([Path(s.output_path) for s in plan.steps if before[s.name]], catalog)
    initial = {name: "cached" if done else "pending" for name, done in before.items()}
    progress = Progress([(s.name, s.kind) for s in plan.steps], initial, live)
    lineage = OpenLineageEmitter(str(root), plan.experiment.name)
    context = RunContext(plan, spec_path.parent.resolve(), run, catalog, lineage, progress, cache, frozenset(forced))
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        if to_run:
            _build_until_settled(context, workers, scheduler, str(logs / f"luigi-{run.id}.log"))
    finally:
        progress.close()
    summary = summarize(plan, before, catalog, run.id, run.started_at)
    catalog.finish_run(run.id, "succeeded" if summary.ok else "failed")
    summary.record_path = write_experiment_record(plan, run, summary)
    if plan.experiment.wandb is not None:
        _log_to_wandb(plan, spec_path, catalog, summary)
    return summary


def _log_to_wandb(plan: Plan, spec_path: Path, catalog: Catalog, summary: RunSummary) -> None:
    """`[experiment] wandb`: the curves and evaluations of the models this run trained; a W&B problem is a
    warning, never a failed run (the results are in the catalog either way)."""
    from lmspec.runtime.wandb_log import WandbError, log_experiment

    try:
        log_experiment(plan, spec_path, catalog, {name for name, state in summary.status.items() if state == "done"})
    except WandbError as exc:
        print(f"lmspec: warning: {exc}", file=sys.stderr)


def _start_run(plan: Plan, spec_path: Path, catalog: Catalog) -> RunStart:
    """Record this run as running, after marking `abandoned` the runs and steps that killed runs left running."""
    abandon_orphans(catalog)
    run = RunStart(
        id=uuid7(),
        experiment=plan.experiment.name,
        spec_path=str(spec_path),
        spec_text=spec_path.read_text(encoding="utf-8"),
        plan_hash=plan_hash(plan),
        root=plan.root,
        git_commit=git_commit(spec_path.parent),
        user=user(),
        host=socket.gethostname(),
        pid=os.getpid(),
        started_at=time.time(),
        versions=versions(),
    )
    catalog.start_run(run)
    return run


def _settle_cached(outputs: list[Path], catalog: Catalog) -> None:
    """Cached outputs may be what a killed run completed but never recorded, or never cleaned up after:
    record them again from their step records, and remove the lease, failed attempt or resume state left
    beside them. Three file checks per output and one query: what an all-cached run pays for it."""
    for output in outputs:
        tidy(output)
    restore_missing(catalog, outputs)


def _build_until_settled(context: RunContext, workers: int, scheduler: tuple[str, int] | None, log_file: str) -> None:
    """Run Luigi; with a central scheduler, build again while other workers still hold steps of this plan.

    A Luigi worker leaves when the scheduler has nothing for it, even if another worker is still
    running steps this plan needs; waiting on their leases makes every `lmspec run` end with the
    whole plan settled, so each reports the same, true outcome.
    """
    from lmspec.runtime.tasks import build

    while True:
        build(context, _sinks(context.plan), workers, scheduler, log_file)
        incomplete = [Path(s.output_path) for s in context.plan.steps if not is_complete(Path(s.output_path))]
        if scheduler is None or not any(lease_active(path) for path in incomplete):
            return
        time.sleep(1.0)


def _downstream(plan: Plan, names: tuple[str, ...]) -> set[str]:
    known = {s.name for s in plan.steps}
    unknown = [n for n in names if n not in known]
    if unknown:
        hints = [f"`{n}`{did_you_mean(n, known)}" for n in unknown]
        raise UsageError(f"--force names no step of this plan: {', '.join(hints)}")
    forced = set(names)
    for step in plan.steps:  # topological order: an input is seen before its dependents
        if forced & set(step.inputs):
            forced.add(step.name)
    return forced


def _sinks(plan: Plan) -> list[str]:
    used = {i for s in plan.steps for i in s.inputs}
    return [s.name for s in plan.steps if s.name not in used]


@contextlib.contextmanager
def _engine_logs_to(handler: logging.FileHandler) -> Iterator[None]:
    """While a step runs, what its engines log or print (Beam, JAX and XLA's C++ logs, transformers, tqdm
    bars, warnings) goes to the step's log file, not the console: records through the root logger, and
    stderr at both levels, Python's `sys.stderr` and file descriptor 2, which native code and child
    processes write to directly. lmspec's own console output goes to stdout and is untouched.
    """
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    sys.stderr.flush()
    console = os.dup(2)
    with open(handler.baseFilename, "a", buffering=1) as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(sink):
                yield
        finally:
            sys.stderr.flush()
            os.dup2(console, 2)
            os.close(console)
            root.removeHandler(handler)
            root.setLevel(level)


def _step_logger(step: StepPlan, path: Path) -> tuple[logging.Logger, logging.FileHandler]:
    logger = logging.getLogger(f"lmspec.step.{step.name}.{step.hash}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers = [handler]
    return logger, handler


__all__ = ["StepFailed", "run_plan"]
