"""What every cluster launcher shares: the job description, the files a job and `lmspec run` exchange, and the
loop that submits a job, follows it, cancels it when the run stops, and turns what it left into a StepResult.

The lease, the attempt directory and the atomic publish stay in the `lmspec run` process. The job only runs the
step's executor (`python -m lmspec.runtime.launchers.job`), writing into the attempt directory on the filesystem
both share, and leaves its StepResult there as JSON. Files of the exchange, all removed before the publish:
  `<attempt>/lmspec-job.json`          the job description (what `Job` holds)
  `<attempt>/lmspec-job.started`       written by the job when its executor starts: queued -> running
  `<attempt>/lmspec-job.result.json`   the job's StepResult, or its error
  `<attempt>/lmspec-job.trainer.json`  multi-host: the trainer command the first host shares with the others
  `<out>.resume/lmspec-job.id.json`    the job a run is following: a run that finds it after a killed run
                                       cancels that job first (attempt directories of killed runs are cleared)
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from lmspec.compiler.plan import StepPlan
from lmspec.errors import LmspecError
from lmspec.outputs.lifecycle import JOB_FILE, STARTED_FILE
from lmspec.runtime.context import StepContext, StepResult

RESULT_FILE = "lmspec-job.result.json"
TRAINER_FILE = "lmspec-job.trainer.json"
RECORD_FILE = "lmspec-job.id.json"
EXCHANGE_FILES = (JOB_FILE, STARTED_FILE, RESULT_FILE, TRAINER_FILE)
POLL_S = 1.0
"""How often `lmspec run` asks the scheduler about a job it follows."""
SILENCE_S = 300.0
"""How long a scheduler may fail to answer about a job before the job is given up (and cancelled)."""

type Report = Callable[[str], None]
"""Shows a step's state (`queued`, `running`) in the run's progress."""


class LaunchError(LmspecError):
    """A job could not be submitted, or ended without a result; says which job and where its log is."""


@dataclass(frozen=True)
class Job:
    """Everything the job process needs to rebuild the step's StepContext: JSON, paths as strings."""

    name: str
    kind: str
    config: dict[str, Any]
    inputs: dict[str, str]
    """Input step name -> its completed output directory."""
    input_kinds: dict[str, str]
    hash: str
    output_path: str
    output_dir: str
    """The attempt directory the job writes into."""
    spec_dir: str
    resume_dir: str
    fingerprint: dict[str, Any]
    hosts: int = 1
    """Processes the job starts, one per host; the first runs the executor, the others its trainer."""

    @classmethod
    def of(cls, context: StepContext[Any], hosts: int) -> Job:
        step = context.step
        return cls(
            name=step.name,
            kind=step.kind,
            config=step.config.model_dump(mode="json"),
            inputs={name: str(path) for name, path in context.inputs.items()},
            input_kinds=dict(context.input_kinds),
            hash=step.hash,
            output_path=step.output_path,
            output_dir=str(context.output_dir),
            spec_dir=str(context.spec_dir),
            resume_dir=str(context.resume_dir),
            fingerprint=step.fingerprint,
            hosts=hosts,
        )

    @property
    def attempt(self) -> Path:
        return Path(self.output_dir)

    @property
    def file(self) -> Path:
        return self.attempt / JOB_FILE

    def write(self) -> Path:
        self.file.write_text(json.dumps(asdict(self), indent=1, sort_keys=True))
        return self.file

    @classmethod
    def read(cls, path: Path) -> Job:
        return cls(**json.loads(path.read_text()))

    def step_plan(self) -> StepPlan:
        """The step, its config validated again by its kind's schema (plugins loaded as in `lmspec run`)."""
        from lmspec.schemas.kinds import load_plugins, step_kinds

        load_plugins()
        config = step_kinds()[self.kind].model_validate_json(json.dumps(self.config))
        return StepPlan(self.name, self.kind, config, tuple(self.inputs), self.hash, self.output_path, self.fingerprint)

    def command(self, python: str) -> list[str]:
        """The job's command line, as the scheduler runs it on each host."""
        return [python, "-m", "lmspec.runtime.launchers.job", str(self.file)]


class Backend(Protocol):
    """One scheduler: submits a job, says whether it ended, cancels it."""

    noun: str
    """How messages name its jobs: `Slurm job`, `Ray task`, `XPK workload`."""
    launcher: str
    ends_with_its_run: bool
    """True when the scheduler itself ends a job once the process that submitted it is gone (Ray ends the
    tasks of a dead driver); False when only `cancel` or the job's watchdog does (Slurm, XPK)."""

    def submit(self, job: Job) -> str:
        """Start `job` (its `command`); returns the scheduler's id of it."""
        ...

    def ended(self, job_id: str) -> str | None:
        """None while the job is queued or running; else how it ended (`COMPLETED`, `CANCELLED`, ...)."""
        ...

    def cancel(self, job_id: str) -> None:
        """Stop the job; a job that already ended or is unknown is no error."""
        ...


def run_as_job(backend: Backend, context: StepContext[Any], hosts: int, report: Report) -> StepResult:
    """Run the step's executor as a job of `backend` and return its result; cancel the job if following it
    is interrupted (Ctrl-C, a failing sibling step). A run killed outright cannot cancel: the job's watchdog
    (`job.py`) ends it, and the next run cancels the job it finds recorded."""
    job = Job.of(context, hosts)
    job.write()
    record = context.resume_dir / RECORD_FILE
    cancel_recorded(backend, record, context)
    job_id = backend.submit(job)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"launcher": backend.launcher, "id": job_id}))
    context.log.info("submitted as %s %s", backend.noun, job_id)
    try:
        ended = _follow(backend, job_id, job.attempt, report, context.log)
    except BaseException:
        context.log.warning("cancelling %s %s", backend.noun, job_id)
        backend.cancel(job_id)
        raise
    finally:
        record.unlink(missing_ok=True)
    context.log.info("%s %s ended: %s", backend.noun, job_id, ended)
    return _result(job.attempt, f"{backend.noun} {job_id} ended ({ended})")


def cancel_recorded(backend: Backend, record: Path, context: StepContext[Any]) -> None:
    """A job a killed run left following: cancel it before a new one writes to the same resume directory."""
    try:
        previous = json.loads(record.read_text())
    except (OSError, ValueError):
        return
    if previous.get("launcher") == backend.launcher and backend.ends_with_its_run:
        context.log.info("%s %s of a killed run ended with it", backend.noun, previous["id"])
    elif previous.get("launcher") == backend.launcher:
        context.log.warning("cancelling %s %s, left by a killed run", backend.noun, previous["id"])
        backend.cancel(str(previous["id"]))
    else:
        context.log.warning("a killed run left %s job %s: cancel it by hand", previous.get("launcher"), previous["id"])
    record.unlink(missing_ok=True)


def _follow(backend: Backend, job_id: str, attempt: Path, report: Report, log: logging.Logger) -> str:
    """Poll the job until it ends, reporting queued, then running once its executor started. A scheduler
    that cannot answer for a while (a busy controller, a timeout) is asked again for `SILENCE_S` before the
    job is given up, so a hiccup never cancels hours of training."""
    shown = "queued"
    report(shown)
    silent_since: float | None = None
    while True:
        try:
            ended = backend.ended(job_id)
        except (LaunchError, subprocess.TimeoutExpired) as exc:
            silent_since = silent_since or time.time()
            if time.time() - silent_since > SILENCE_S:
                silence = f"no answer from the scheduler for {SILENCE_S:.0f} s"
                raise LaunchError(f"{backend.noun} {job_id}: {silence}: {exc}") from None
            log.warning("asking about %s %s again: %s", backend.noun, job_id, exc)
        else:
            silent_since = None
            if ended is not None:
                return ended
        if shown == "queued" and (attempt / STARTED_FILE).exists():
            shown = "running"
            report(shown)
        time.sleep(POLL_S)


def _result(attempt: Path, what: str) -> StepResult:
    """The StepResult the job left, its exchange files removed (they are no part of the output)."""
    try:
        found = json.loads((attempt / RESULT_FILE).read_text())
    except (OSError, ValueError):
        raise LaunchError(
            f"{what} without a result: it was cancelled or killed before its executor finished; the step's log "
            "holds what it wrote"
        ) from None
    finally:
        for name in EXCHANGE_FILES:
            with contextlib.suppress(FileNotFoundError):
                (attempt / name).unlink()
    if found.get("error"):
        raise LaunchError(f"{what}: {found['error']}")
    series = {name: [(int(step), float(value)) for step, value in points] for name, points in found["series"].items()}
    return StepResult(counts=found["counts"], metrics=found["metrics"], series=series)


def write_result(attempt: Path, result: StepResult | None, error: str | None) -> None:
    """The job's side of `_result`: written last, atomically (the scheduler may report the job ended first)."""
    body = {"error": error} if result is None else {"error": None, **asdict(result)}
    tmp = attempt / f".{RESULT_FILE}.tmp"
    tmp.write_text(json.dumps(body))
    tmp.replace(attempt / RESULT_FILE)
