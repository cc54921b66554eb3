"""Multi-host jobs: which host this process is, and the trainer command the first host shares with the others.

A scheduler starts the job's entry point once per host (Slurm: `srun`, one task per node; Ray: one task per
bundle of a placement group; XPK: one pod per host). The first host runs the step's executor; when the executor
starts its trainer (`maxtext_run.run_maxtext`), `share_trainer` writes the command into the attempt directory and
every other host starts the same command, so MaxText runs once per host and `jax.distributed` joins them:
  Slurm  the tasks' SLURM_* variables (JAX detects a Slurm cluster; hardware=gpu_multiprocess)
  Ray    JAX_COORDINATOR_IP/PORT, NNODES, NODE_RANK set per bundle (MaxText's `initialize_jax_for_gpu`, which
         needs hardware=gpu: `host_flags` switches it)
  XPK    what XPK sets in its pods (TPU: the TPU runtime's own; GPU: the variables above)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lmspec.outputs.model import Flags
from lmspec.runtime.launchers.base import TRAINER_FILE

HOSTS_ENV = "LMSPEC_JOB_HOSTS"
"""Set by the job's entry point on its first host: the job's hosts (trainer sharing is needed past one)."""
RANK_ENV = "LMSPEC_HOST_RANK"
JAX_INIT_ENV = "LMSPEC_JAX_INIT"
"""`env`: the launcher set the coordinator variables MaxText's `hardware=gpu` path reads (Ray)."""
RANK_SOURCES = (RANK_ENV, "SLURM_PROCID", "TPU_WORKER_ID", "JOB_COMPLETION_INDEX")
"""Where each scheduler says which process of the job this is, lmspec's own first."""


def host_rank() -> int:
    """This process's index among the job's hosts: 0 on the first (or only) host."""
    for name in RANK_SOURCES:
        if (value := os.environ.get(name, "")).isdigit():
            return int(value)
    return 0


def coordinator_env(rank: int, hosts: int, coordinator_ip: str, port: int) -> dict[str, str]:
    """What MaxText's `initialize_jax_for_gpu` reads to join `hosts` processes, for the process `rank`."""
    return {
        RANK_ENV: str(rank),
        JAX_INIT_ENV: "env",
        "JAX_COORDINATOR_IP": coordinator_ip,
        "JAX_COORDINATOR_PORT": str(port),
        "NNODES": str(hosts),
        "NODE_RANK": str(rank),
    }


def host_flags(flags: Flags) -> Flags:
    """The trainer's flags for the way this job's hosts find each other: MaxText reads the coordinator variables
    a Ray job sets only with hardware=gpu (gpu_multiprocess expects a cluster JAX detects, such as Slurm)."""
    if os.environ.get(JAX_INIT_ENV) == "env" and flags.get("hardware") == "gpu_multiprocess":
        return {**flags, "hardware": "gpu"}
    return flags


def share_trainer(command: list[str], env: dict[str, str], attempt: Path) -> None:
    """On the first host of a multi-host job: write the trainer's command, and the variables it sets beyond this
    process's, for the other hosts (`job._follow`) to start it too; nothing to do on one host."""
    if int(os.environ.get(HOSTS_ENV, "1")) <= 1:
        return
    extra = {key: value for key, value in env.items() if os.environ.get(key) != value}
    tmp = attempt / f".{TRAINER_FILE}.tmp"
    tmp.write_text(json.dumps({"command": command, "env": extra}))
    tmp.replace(attempt / TRAINER_FILE)


def trainer_shared(path: Path) -> tuple[list[str], dict[str, str]] | None:
    """The command and variables `share_trainer` wrote, once it has."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return list(found["command"]), dict(found["env"])
