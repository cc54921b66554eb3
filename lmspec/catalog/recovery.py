"""Keeping the catalog true to the outputs on disk after kills and losses.

The outputs are the source of truth; the catalog is their index. A run killed with kill -9 leaves its run
and the artifact it was executing recorded as `running`: they are marked `abandoned` once their process is
known to be gone. An output completed by a run that died before recording it, or one whose catalog was
deleted, is recorded again from its own step record, one at a time by the next run that finds it cached,
all at once by `lmspec catalog rebuild`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmspec.catalog.records import StepRecord
from lmspec.catalog.store import Catalog
from lmspec.outputs.lifecycle import RESULT_NAME, holder_gone, lease_left_behind, published_outputs, read_record


def abandon_orphans(catalog: Catalog) -> None:
    """Mark `abandoned` what is recorded as running but whose process is gone: a run whose process on this
    host has exited, with its running artifacts, and an artifact whose lease its dead holder left behind
    (seen on any host that shares the root), with its run. A run on another host with no lease in sight
    is left as it is: nothing here can tell whether it is alive."""
    runs, artifacts = catalog.running()
    dead = {run_id for run_id, (host, pid) in runs.items() if holder_gone(host, pid)}
    orphans = {path: run for path, run in artifacts.items() if run in dead or lease_left_behind(Path(path))}
    catalog.abandon(orphans, dead | {run for run in orphans.values() if run is not None})


def abandon_previous(catalog: Catalog, output_path: str) -> None:
    """The lease of `output_path` was just taken over: the run that held it is dead or silent, and so is
    the execution it recorded."""
    record = catalog.find(output_path)
    if record is not None and record.status == "running":
        catalog.abandon({output_path: record.run_id}, [record.run_id] if record.run_id else [])


@dataclass
class Restored:
    """What `restore_missing` did with each output it was given."""

    recorded: list[str] = field(default_factory=list)
    """Outputs recorded again from their step records."""
    present: int = 0
    """Outputs the catalog already had as succeeded."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """Output -> why its step record could not be used (none, or written by an older lmspec)."""


def restore_missing(catalog: Catalog, outputs: list[Path]) -> Restored:
    """Record the complete `outputs` the catalog lacks (or holds as running, failed or abandoned) from the
    step record each keeps; one query when none is missing, which is what an all-cached run pays."""
    done = Restored()
    have = catalog.succeeded([str(output) for output in outputs])
    for output in outputs:
        if str(output) in have:
            done.present += 1
            continue
        found = read_record(output)
        try:
            record = StepRecord.from_json(found or {})
        except ValueError as exc:
            done.unreadable[str(output)] = f"no readable {RESULT_NAME}" if found is None else str(exc)
            continue
        catalog.restore(record.moved_to(str(output)))
        done.recorded.append(str(output))
    return done


def rebuild(catalog: Catalog, root: Path) -> Restored:
    """Re-create the catalog's records of every complete output under `root` that it lacks."""
    return restore_missing(catalog, list(published_outputs(root)))
