"""`launcher = "slurm"`: the step runs as a batch job, through Slurm's own commands (`sbatch`, `squeue`,
`scancel`): the clients every Slurm cluster has, the same version as its daemons, and nothing to pin here.

The job's output is appended to the step's log in the attempt directory; with `nodes > 1` the batch script starts
the job's entry point once per node with `srun`, and JAX finds the other processes from the SLURM_* variables.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from lmspec.outputs.lifecycle import LOG_NAME
from lmspec.runtime.launchers.base import Job, LaunchError
from lmspec.schemas.base import SlurmOptions

ACTIVE_STATES = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "SUSPENDED",
    "REQUEUED",
    "RESIZING",
    "SIGNALING",
    "STAGE_OUT",
    "COMPLETING",
}
"""squeue states of a job that has not ended. COMPLETING too: its processes have, but its final state
(COMPLETED, CANCELLED, FAILED, TIMEOUT) is known only once its epilog ran, and that is what the run reports."""
QUERY_TIMEOUT_S = 60


class SlurmBackend:
    noun = "Slurm job"
    launcher = "slurm"
    ends_with_its_run = False

    def __init__(self, options: SlurmOptions) -> None:
        self.options = options

    def submit(self, job: Job) -> str:
        done = _slurm(sbatch_command(job, self.options), stdin=batch_script(job, sys.executable))
        return done.stdout.strip().split(";")[0]

    def ended(self, job_id: str) -> str | None:
        found = subprocess.run(
            ["squeue", "--noheader", "--states=all", "--jobs", job_id, "--format=%T"],
            capture_output=True,
            text=True,
            check=False,
            timeout=QUERY_TIMEOUT_S,
        )
        state = found.stdout.strip()
        if found.returncode != 0 and "Invalid job id" not in found.stderr:
            raise LaunchError(f"squeue could not say how Slurm job {job_id} is: {found.stderr.strip()}")
        if state in ACTIVE_STATES:
            return None
        return state or "left the queue"

    def cancel(self, job_id: str) -> None:
        subprocess.run(["scancel", job_id], capture_output=True, check=False, timeout=QUERY_TIMEOUT_S)


def sbatch_command(job: Job, options: SlurmOptions) -> list[str]:
    """The `sbatch` call for `job` (the batch script comes on its standard input)."""
    command = [
        "sbatch",
        "--parsable",
        f"--job-name=lmspec-{job.name}-{job.hash}",
        f"--output={job.attempt / LOG_NAME}",
        "--open-mode=append",
        f"--nodes={options.nodes}",
        f"--ntasks-per-node={options.tasks_per_node}",
    ]
    optional = {
        "--partition": options.partition,
        "--account": options.account,
        "--time": options.time_limit,
        "--gpus-per-node": options.gpus_per_node,
        "--cpus-per-task": options.cpus_per_task,
    }
    command += [f"{flag}={value}" for flag, value in optional.items() if value is not None]
    return [*command, *options.sbatch_flags]


def batch_script(job: Job, python: str) -> str:
    """The batch script: the job's entry point, once per node through `srun` when the job spans nodes."""
    entry = shlex.join(job.command(python))
    if job.hosts > 1:
        entry = f"srun --nodes={job.hosts} --ntasks={job.hosts} --ntasks-per-node=1 --kill-on-bad-exit=1 {entry}"
    return f"#!/bin/bash\nset -e\nexec {entry}\n"


def _slurm(command: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, timeout=120)
    except FileNotFoundError:
        raise LaunchError(f"`{command[0]}` is not installed here: run lmspec on a Slurm login node") from None
    if done.returncode != 0:
        raise LaunchError(f"{shlex.join(command)} failed: {done.stderr.strip()}")
    return done
