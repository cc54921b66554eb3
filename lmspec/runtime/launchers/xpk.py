"""`launcher = "xpk"`: the step runs as a workload on a GKE cluster that XPK created, through the `xpk` command
(`pip install xpk`, with `gcloud` logged in) and `kubectl` for the workload's state.

The workload runs the job's entry point in `docker_image` on every host of the slice `resources` asks for: the
image holds lmspec and MaxText, and mounts the output root (a Filestore or GCS FUSE volume) at the same path as
here. XPK sets what `jax.distributed` needs in each pod; the first host runs the executor, the others the
trainer it shares (see `hosts`). lmspec does not provision clusters; `preflight_problems` says what is missing
before a run starts anything.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

from lmspec.compiler.hardware import Slice
from lmspec.compiler.maxtext import xpk_device_flag
from lmspec.runtime.launchers.base import Job, LaunchError
from lmspec.schemas.base import XpkOptions

NAME_LIMIT = 40
"""XPK's longest workload name."""
PYTHON = "python3"
"""The interpreter the workload's image runs the job with."""
QUERY_TIMEOUT_S = 120


class XpkBackend:
    noun = "XPK workload"
    launcher = "xpk"
    ends_with_its_run = False

    def __init__(self, options: XpkOptions, hardware: Slice) -> None:
        self.options = options
        self.hardware = hardware

    def submit(self, job: Job) -> str:
        _run(workload_command(job, self.options, self.hardware))
        return workload_name(job)

    def ended(self, job_id: str) -> str | None:
        found = subprocess.run(
            ["kubectl", "get", "jobset", job_id, "--output=jsonpath={.status.terminalState}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=QUERY_TIMEOUT_S,
        )
        if found.returncode != 0:
            if "NotFound" in found.stderr:
                return "deleted"
            raise LaunchError(f"kubectl could not say how XPK workload {job_id} is: {found.stderr.strip()}")
        return found.stdout.strip() or None

    def cancel(self, job_id: str) -> None:
        command = ["xpk", "workload", "delete", f"--workload={job_id}", *_cluster_flags(self.options)]
        subprocess.run(command, capture_output=True, check=False, timeout=QUERY_TIMEOUT_S)


def workload_name(job: Job) -> str:
    """Unique per attempt (a cancelled workload may linger under its name), in the characters GKE accepts."""
    token = job.attempt.name.rpartition("-")[2][:6]
    stem = re.sub(r"[^a-z0-9-]", "-", f"lmspec-{job.name}".lower())[: NAME_LIMIT - len(job.hash) - len(token) - 2]
    return f"{stem}-{job.hash}-{token}"


def workload_command(job: Job, options: XpkOptions, hardware: Slice) -> list[str]:
    """The `xpk workload create` call that runs `job` on every host of the slice."""
    return [
        "xpk",
        "workload",
        "create",
        f"--workload={workload_name(job)}",
        *_cluster_flags(options),
        f"--docker-image={options.docker_image}",
        xpk_device_flag(hardware),
        "--num-slices=1",  # one slice: a job's hosts are numbered within it (`hosts.host_rank`)
        f"--command={shlex.join(job.command(PYTHON))}",
    ]


def _cluster_flags(options: XpkOptions) -> list[str]:
    flags = [f"--cluster={options.cluster}"]
    flags += [f"--project={options.project}"] if options.project else []
    return flags + ([f"--zone={options.zone}"] if options.zone else [])


def preflight_problems(options: XpkOptions) -> list[str]:
    """What keeps `xpk` from submitting here: a missing tool, no gcloud login, no project or zone."""
    missing = [tool for tool in ("xpk", "gcloud", "kubectl") if shutil.which(tool) is None]
    if missing:
        return [f"{', '.join(missing)} not installed (`pip install xpk`; the Google Cloud SDK with kubectl)"]
    problems = [] if _gcloud_value("account") else ["gcloud is not logged in (`gcloud auth login`)"]
    if options.project is None and not _gcloud_value("project"):
        problems.append("no project: set `xpk.project` or `gcloud config set project`")
    if options.zone is None and not _gcloud_value("compute/zone"):
        problems.append("no zone: set `xpk.zone` or `gcloud config set compute/zone`")
    return problems


def _gcloud_value(key: str) -> str:
    try:
        found = subprocess.run(
            ["gcloud", "config", "get-value", key], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return found.stdout.strip() if found.returncode == 0 else ""


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise LaunchError(f"{shlex.join(command[:3])} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
