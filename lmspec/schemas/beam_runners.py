"""The Apache Beam runners a spec may name, the options each accepts, and which settings start processes.

A spec is data: it must not be able to make lmspec import an arbitrary module (a dotted runner path) or
run a command (a portable runner's PROCESS environment, an embedded job server). So a runner is named
from this allow-list (or from the `lmspec.beam_runners` entry-point group, which an administrator
installs, never a spec), its options are checked against what that runner reads, and the settings that
start local processes need `lmspec run --allow-runner-processes`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata

PLUGIN_GROUP = "lmspec.beam_runners"
"""Entry points `Name = "package.module:RunnerClass"` add runners to the allow-list."""


@dataclass(frozen=True)
class BeamRunner:
    """What lmspec passes to Beam for one runner name."""

    import_path: str
    """The runner class Beam loads (`--runner=`): fixed here, never taken from a spec."""
    options: frozenset[str]
    """Pipeline option names (without `--`) a spec may set for this runner."""
    process_options: dict[str, frozenset[str] | None] = field(default_factory=dict)
    """Option -> the values that start local processes (None: any value does)."""
    starts_processes: str | None = None
    """Why the runner itself starts local processes (a Java job server), if it does."""


_LOCAL = frozenset({"direct_num_workers", "direct_running_mode"})
_SETUP = frozenset({"requirements_file", "setup_file", "extra_packages", "save_main_session", "pickle_library"})
_SETUP_PROCESSES: dict[str, frozenset[str] | None] = {"requirements_file": None, "setup_file": None}
"""Dataflow builds these locally (pip download, setup.py sdist) before submitting."""
_PORTABLE = frozenset({"job_endpoint", "environment_type", "environment_config", "artifact_endpoint"})
_PORTABLE_PROCESSES: dict[str, frozenset[str] | None] = {
    "job_endpoint": frozenset({"embed"}),
    "environment_type": frozenset({"PROCESS", "DOCKER", "process", "docker"}),
}

BEAM_RUNNERS: dict[str, BeamRunner] = {
    "FnApiRunner": BeamRunner("apache_beam.runners.portability.fn_api_runner.FnApiRunner", _LOCAL),
    "DirectRunner": BeamRunner("DirectRunner", _LOCAL),
    "DaskRunner": BeamRunner(
        "apache_beam.runners.dask.dask_runner.DaskRunner",
        frozenset(
            {
                "dask_client_address",
                "dask_client_name",
                "dask_connection_limit",
                "dask_connection_timeout",
                "dask_npartitions",
                "dask_partition_size",
                "dask_scheduler_file",
            }
        ),
    ),
    "DataflowRunner": BeamRunner(
        "DataflowRunner",
        _SETUP
        | frozenset(
            {
                "project",
                "region",
                "temp_location",
                "staging_location",
                "job_name",
                "service_account_email",
                "labels",
                "num_workers",
                "max_num_workers",
                "machine_type",
                "disk_size_gb",
                "network",
                "subnetwork",
                "use_public_ips",
                "worker_zone",
                "sdk_container_image",
                "experiments",
                "dataflow_service_options",
            }
        ),
        _SETUP_PROCESSES,
    ),
    "PortableRunner": BeamRunner("PortableRunner", _PORTABLE, _PORTABLE_PROCESSES),
    "FlinkRunner": BeamRunner(
        "FlinkRunner",
        _PORTABLE | frozenset({"flink_master", "flink_version", "parallelism", "max_parallelism"}),
        _PORTABLE_PROCESSES,
        starts_processes="FlinkRunner starts a Java job server on this machine",
    ),
    "SparkRunner": BeamRunner(
        "SparkRunner",
        _PORTABLE | frozenset({"spark_master_url", "spark_rest_url", "spark_version"}),
        _PORTABLE_PROCESSES,
        starts_processes="SparkRunner starts a Java job server on this machine",
    ),
}
"""Beam's runners by name. The default is named by its import path because Beam's own default first tries
to download the Prism runner from the internet."""


@functools.cache
def _plugins() -> dict[str, str]:
    """Runner name -> import path, from the entry points (read once: scanning them costs ~15 ms)."""
    return {e.name: e.value.replace(":", ".") for e in metadata.entry_points(group=PLUGIN_GROUP)}


def runner_names() -> list[str]:
    """Built-in runner names, then the ones installed through the `lmspec.beam_runners` entry points."""
    return [*BEAM_RUNNERS, *(name for name in _plugins() if name not in BEAM_RUNNERS)]


def runner(name: str) -> BeamRunner | None:
    """The allow-listed runner called `name` (plugins accept any option; they are the installer's choice)."""
    if name in BEAM_RUNNERS:
        return BEAM_RUNNERS[name]
    path = _plugins().get(name)
    return BeamRunner(path, frozenset()) if path is not None else None


def process_reasons(name: str, options: Mapping[str, object]) -> list[str]:
    """Why running with this runner and these options would start processes on this machine; [] if it would not."""
    found = runner(name)
    if found is None:
        return []
    reasons = [found.starts_processes] if found.starts_processes else []
    for option, values in found.process_options.items():
        if option in options and (values is None or str(options[option]) in values):
            reasons.append(f"`{option} = {options[option]!r}` starts a process on this machine")
    return reasons
