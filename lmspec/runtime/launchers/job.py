"""The job's entry point: `python -m lmspec.runtime.launchers.job <attempt>/lmspec-job.json`, run by the scheduler
on each host of the job.

The first host rebuilds the step's StepContext and runs its executor, logging into the step's log in the attempt
directory, and leaves the StepResult (or the error) beside it for `lmspec run`. The other hosts of a multi-host
job run only the trainer the first one shares (`hosts.share_trainer`), with their own rank. A watchdog ends the
job when the run that submitted it is gone (its lease expired, or its attempt directory was cleared or kept as
failed): a killed `lmspec run` leaves no job training into a directory nobody will publish.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from lmspec.errors import LmspecError
from lmspec.outputs.lifecycle import LOG_NAME, STARTED_FILE, lease_active
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.launchers.base import RESULT_FILE, TRAINER_FILE, Job, LaunchError, write_result
from lmspec.runtime.launchers.hosts import HOSTS_ENV, host_rank, trainer_shared

WATCH_S = 2.0
"""How often the job checks that the run which submitted it is still there."""
ORPHANED_EXIT = 3


def main(argv: list[str]) -> int:
    job = Job.read(Path(argv[0]))
    threading.Thread(target=_watch, args=(job,), name="lmspec run watchdog", daemon=True).start()
    if job.hosts > 1 and host_rank() > 0:  # a single-host job on a numbered machine is still the first
        return _follow(job)
    os.environ[HOSTS_ENV] = str(job.hosts)  # read by the trainer hook (`hosts.share_trainer`)
    (job.attempt / STARTED_FILE).touch()
    log = _step_log(job)
    try:
        result = _execute(job, log)
    except Exception as exc:
        log.error("step failed in the job:\n%s", traceback.format_exc())
        write_result(job.attempt, None, _message(exc))
        return 1
    write_result(job.attempt, result, None)
    return 0


def _message(exc: Exception) -> str:
    """What `lmspec run` shows: an LmspecError's own message (it says what to do), else the exception as Python
    prints it (a bug: its traceback is in the step's log)."""
    if isinstance(exc, LmspecError):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip()


def _execute(job: Job, log: logging.Logger) -> StepResult:
    from lmspec.runtime.registry import executor_for

    step = job.step_plan()
    executor = executor_for(type(step.config))
    if executor is None:
        raise LaunchError(f"no executor for step kind `{step.kind}` on {os.uname().nodename}: install it there")
    context = StepContext(
        step=step,
        spec=step.config,
        input_kinds=job.input_kinds,
        inputs={name: Path(path) for name, path in job.inputs.items()},
        output_dir=job.attempt,
        spec_dir=Path(job.spec_dir),
        log=log,
        resume_dir=Path(job.resume_dir),
    )
    log.info("job on %s (pid %d) runs step %s", os.uname().nodename, os.getpid(), step.name)
    return executor(context) or StepResult()


def _follow(job: Job) -> int:
    """A host after the first: wait for the trainer command the first host shares, run it here, and exit as it
    does; exit at once when the first host finished without one (a step that trains nothing)."""
    while not (job.attempt / RESULT_FILE).exists():
        if (shared := trainer_shared(job.attempt / TRAINER_FILE)) is not None:
            from lmspec.runtime.training.maxtext_run import die_with_parent

            command, env = shared
            trainer = subprocess.run(command, env={**os.environ, **env}, check=False, preexec_fn=die_with_parent)
            return trainer.returncode
        time.sleep(WATCH_S)
    return 0


def _step_log(job: Job) -> logging.Logger:
    """The step's log in the attempt directory, appended to; engines' records go there too (through the root
    logger), and their stderr already does (the scheduler sends the job's output to the same file)."""
    handler = logging.FileHandler(job.attempt / LOG_NAME)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    log = logging.getLogger(f"lmspec.step.{job.name}.{job.hash}")
    log.propagate = False
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    return log


def _watch(job: Job) -> None:
    """End this process (and its trainer, which dies with it) once nobody waits for its result."""
    output = Path(job.output_path)
    while job.attempt.is_dir() and lease_active(output):
        time.sleep(WATCH_S)
    print(f"lmspec job: the run that submitted step {job.name} is gone; stopping", file=sys.stderr, flush=True)
    os._exit(ORPHANED_EXIT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
