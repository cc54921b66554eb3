"""Each step's status, read from its output on disk: what `lmspec compile`, `run --dry-run`, `explain` and
the experiment record show. Reads only; imports no engine and nothing from lmspec.runtime, so the
compiler's commands stay light.

  cached   the output holds its success marker
  queued   a live process holds the step's lease and has handed it to a scheduler that has not started it
  running  a live process holds the step's lease
  failed   a failed attempt is kept beside the output, and no success marker
  abandoned  a lease is left by a process that is gone (a killed run): the next run takes it over
  if-inputs-change  pending, but an earlier output of the step has its very settings: it runs only if an
           input that runs first writes other bytes than before (early cutoff, `lmspec.compiler.cutoff`)
  pending  none of these
  unknown  the root is a URL that cannot be read (offline, no credentials)
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from lmspec.compiler.diff import own_field_changes
from lmspec.compiler.plan import Plan, Status, StepPlan, is_url, join
from lmspec.compiler.remote import Unanswered, probe
from lmspec.outputs.lifecycle import (
    SUCCESS_MARKER,
    failed_dir,
    is_complete,
    lease_active,
    lease_left_behind,
    published_outputs,
    queued,
    read_record,
)

_unreachable: dict[str, str] = {}
"""Remote root -> why it could not be read; checked once per process, so an offline compile is not slowed
by one network timeout per step."""


def plan_statuses(plan: Plan) -> dict[str, Status]:
    """Step name -> its status, for every step of `plan`."""
    statuses = {step.name: step_status(plan, step) for step in plan.steps}
    waiting = [
        s for s in plan.steps if statuses[s.name] == "pending" and any(statuses[i] != "cached" for i in s.inputs)
    ]
    if waiting and not is_url(plan.root):
        settings = _settings_by_step(Path(plan.root), {s.name for s in waiting})
        for step in waiting:
            if any(not own_field_changes(earlier, step.fingerprint) for earlier in settings.get(step.name, ())):
                statuses[step.name] = "if-inputs-change"
    return statuses


def _settings_by_step(root: Path, names: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Step name (of `names`) -> the fingerprints of its complete outputs under `root`."""
    found: dict[str, list[dict[str, Any]]] = {}
    for output in published_outputs(root):
        name = output.name.rpartition("-")[0]
        fingerprint = (read_record(output) or {}).get("artifact", {}).get("fingerprint") if name in names else None
        if isinstance(fingerprint, dict):
            found.setdefault(name, []).append(fingerprint)
    return found


def step_status(plan: Plan, step: StepPlan) -> Status:
    """The status of one step of `plan` (whose root says whether it is local or remote)."""
    if is_url(plan.root):
        return _remote_status(plan.root, step.output_path)
    return output_status(Path(step.output_path))


def output_status(output: Path) -> Status:
    """The status of a local output; a live lease wins over an older failed attempt (it is being retried)."""
    if is_complete(output):
        return "cached"
    if lease_active(output):
        return "queued" if queued(output) else "running"
    if lease_left_behind(output):
        return "abandoned"
    return "failed" if failed_dir(output).is_dir() else "pending"


def _remote_status(root: str, output_path: str) -> Status:
    """`cached` or `pending` by the success marker alone: `lmspec run` writes to local or mounted roots
    only, so a remote root holds no leases or failed attempts. `unknown` when the root cannot be read."""
    if root in _unreachable:
        return "unknown"
    found = probe(lambda: remote_exists(join(output_path, SUCCESS_MARKER)))
    if not isinstance(found, Unanswered):
        return "cached" if found else "pending"
    _unreachable[root] = found.reason
    print(f"lmspec: cannot read {root} ({found.reason}); step statuses are unknown", file=sys.stderr)
    return "unknown"


def remote_exists(url: str) -> bool:
    """Whether the object at an fsspec URL exists (engines' noisy loggers quieted: they log before raising)."""
    import fsspec  # only remote roots pay for it

    for noisy in ("gcsfs", "s3fs", "fsspec", "google", "aiohttp"):  # they log tracebacks before raising
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    fs, inner = fsspec.core.url_to_fs(url)
    return bool(fs.exists(inner))
