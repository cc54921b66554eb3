"""`launcher = "ray"`: the step runs as a Ray task on an existing cluster, through Ray's Python API (pinned in
uv.lock with lmspec; imported only when a step uses this launcher).

The task starts the job's entry point as a child process (a fresh interpreter per step: JAX and Beam keep
process-wide state, and its output goes to the step's log). With `hosts > 1` the step gets a placement group,
one bundle per host; the task on the first bundle starts one task on each other bundle, with the coordinator
variables pointing at its own node (see `hosts`). Tasks a killed `lmspec run` owned are ended by Ray itself,
since their owner is gone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from lmspec.outputs.lifecycle import LOG_NAME
from lmspec.runtime.launchers.base import Job, LaunchError
from lmspec.runtime.launchers.hosts import coordinator_env
from lmspec.schemas.base import RayOptions

PASSED_ENV_PREFIXES = ("LMSPEC_", "PYTHONPATH")
"""Variables of `lmspec run` the task's process gets too (plugins, test switches, import paths)."""


class RayBackend:
    noun = "Ray task"
    launcher = "ray"
    ends_with_its_run = True

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self._running: dict[str, tuple[Any, Any]] = {}
        """Job id -> (its ObjectRef, its placement group or None)."""
        if not ray.is_initialized():
            try:
                ray.init(address=options.address, namespace="lmspec", log_to_driver=False, configure_logging=False)
            except ConnectionError as exc:
                raise LaunchError(f"cannot reach the Ray cluster at {options.address!r}: {exc}") from None

    def submit(self, job: Job) -> str:
        env = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV_PREFIXES)}
        reserve = task_resources(self.options)
        group = None
        if job.hosts == 1:
            ref = _run_host.options(**reserve).remote(str(job.file), env)
        else:
            group = placement_group([bundle(self.options)] * job.hosts, strategy="STRICT_SPREAD")
            ref = _run_hosts.options(num_cpus=0, scheduling_strategy=_in_bundle(group, 0)).remote(
                str(job.file), env, job.hosts, reserve, group
            )
        job_id = ref.hex()
        self._running[job_id] = (ref, group)
        return str(job_id)

    def ended(self, job_id: str) -> str | None:
        ref, _ = self._running[job_id]
        ready, _ = ray.wait([ref], timeout=0)
        if not ready:
            return None
        self._release(job_id)
        try:
            return f"exit code {ray.get(ref)}"
        except ray.exceptions.TaskCancelledError:
            return "cancelled"
        except ray.exceptions.RayError as exc:
            return f"failed: {str(exc).strip().splitlines()[0]}"

    def cancel(self, job_id: str) -> None:
        if job_id in self._running:
            ray.cancel(self._running[job_id][0], force=True, recursive=True)
            self._release(job_id)

    def _release(self, job_id: str) -> None:
        _, group = self._running.pop(job_id)
        if group is not None:
            remove_placement_group(group)


def bundle(options: RayOptions) -> dict[str, float]:
    """What one host's share of a placement group reserves."""
    return {"CPU": options.num_cpus, "GPU": options.num_gpus, **options.resources}


def task_resources(options: RayOptions) -> dict[str, Any]:
    """`.options(...)` of a task that runs on one host."""
    return {"num_cpus": options.num_cpus, "num_gpus": options.num_gpus, "resources": dict(options.resources)}


def _in_bundle(group: Any, index: int) -> Any:
    return PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=index)


def _job_process(job_file: str, env: dict[str, str]) -> int:
    """Run the job's entry point here, its output appended to the step's log; its exit code."""
    from lmspec.runtime.training.maxtext_run import die_with_parent

    command = Job.read(Path(job_file)).command(sys.executable)
    with (Path(job_file).parent / LOG_NAME).open("a") as log:
        return subprocess.run(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        ).returncode


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


@ray.remote(max_retries=0)
def _run_host(job_file: str, env: dict[str, str]) -> int:
    return _job_process(job_file, env)


@ray.remote(max_retries=0)
def _run_hosts(job_file: str, env: dict[str, str], hosts: int, reserve: dict[str, Any], group: Any) -> int:
    """On the first bundle: start the job on every other bundle, pointed at this node, then run it here."""
    address, port = ray.util.get_node_ip_address(), _free_port()  # type: ignore[no-untyped-call]
    others = [
        _run_host.options(**reserve, scheduling_strategy=_in_bundle(group, rank)).remote(
            job_file, {**env, **coordinator_env(rank, hosts, address, port)}
        )
        for rank in range(1, hosts)
    ]
    first = _job_process(job_file, {**env, **coordinator_env(0, hosts, address, port)})
    codes = [first, *ray.get(others)]
    return next((code for code in codes if code != 0), 0)
