"""The spec language's versions and the migrations between them.

A spec says which version it is written in with `[experiment] spec_version` (a spec without it is read as
the current version, unless it uses a shape an older version had, which is detected). An old spec still
compiles: the migrations are applied in memory, with a note, so its hashes stay what they were. `lmspec
migrate SPEC...` rewrites the files themselves, keeping comments and layout (tomlkit, ruamel.yaml).

A migration edits any mutable mapping, so the same function serves the plain data the compiler reads and
the comment-keeping documents `migrate` writes. Add one by appending to MIGRATIONS and bumping
SPEC_VERSION (in lmspec/schemas/experiment.py); say why in docs/contract-changes.md.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from lmspec.schemas.experiment import SPEC_VERSION

Document = MutableMapping[str, Any]


@dataclass(frozen=True)
class Migration:
    """Rewrites a spec from version `to_version - 1` to `to_version`."""

    to_version: int
    summary: str
    apply: Callable[[Document], list[str]]
    """Edits the document in place; returns what it changed, one line each (empty: nothing to change)."""


BEAM_IMPORT_PATHS = {
    "apache_beam.runners.portability.fn_api_runner.FnApiRunner": "FnApiRunner",
    "apache_beam.runners.portability.fn_api_runner.fn_runner.FnApiRunner": "FnApiRunner",
    "apache_beam.runners.direct.direct_runner.DirectRunner": "DirectRunner",
    "apache_beam.runners.dask.dask_runner.DaskRunner": "DaskRunner",
    "apache_beam.runners.dataflow.dataflow_runner.DataflowRunner": "DataflowRunner",
    "apache_beam.runners.portability.portable_runner.PortableRunner": "PortableRunner",
    "apache_beam.runners.portability.flink_runner.FlinkRunner": "FlinkRunner",
    "apache_beam.runners.portability.spark_runner.SparkRunner": "SparkRunner",
}
"""Version 1 took a runner's import path; version 2 takes only allow-listed names (a spec must not make
lmspec import a module of its choosing)."""


def _runner_names(document: Document) -> list[str]:
    changed = []
    steps = document.get("steps")
    for name, step in steps.items() if isinstance(steps, MutableMapping) else ():
        runner = step.get("runner") if isinstance(step, MutableMapping) else None
        old = runner.get("name") if isinstance(runner, MutableMapping) else None
        if isinstance(runner, MutableMapping) and isinstance(old, str) and old in BEAM_IMPORT_PATHS:
            runner["name"] = BEAM_IMPORT_PATHS[old]
            changed.append(f"steps.{name}.runner.name: {old} -> {BEAM_IMPORT_PATHS[old]}")
    return changed


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "Beam runners are named, not imported (`FnApiRunner`, not its import path)", _runner_names),
)


def version_of(document: Document) -> int:
    """The version a document is written in: its `spec_version`, else the oldest whose shape it uses."""
    experiment = document.get("experiment")
    written = experiment.get("spec_version") if isinstance(experiment, MutableMapping) else None
    if isinstance(written, int):
        return written
    for migration in MIGRATIONS:
        probe: dict[str, Any] = _copy(document)
        if migration.apply(probe):
            return migration.to_version - 1
    return SPEC_VERSION


def migrate(document: Document) -> tuple[int, list[str]]:
    """Bring `document` to SPEC_VERSION in place; returns the version it had and what changed."""
    start = version = version_of(document)
    changes: list[str] = []
    for migration in MIGRATIONS:
        if migration.to_version > version:
            changes += [f"{version} -> {migration.to_version}: {line}" for line in migration.apply(document)]
            version = migration.to_version
    return start, changes


def _copy(value: Any) -> Any:
    """A plain deep copy of a mapping (tomlkit and ruamel containers included), for probing without editing."""
    if isinstance(value, MutableMapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
