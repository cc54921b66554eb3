"""The compiled plan: a DAG of frozen step plans with hashes, output paths and statuses."""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from lmspec.schemas import ExperimentHeader, StepBase

SUCCESS_MARKER = "_SUCCESS"
"""A step is complete when its output directory holds this file (written last, after an atomic rename)."""

Status = Literal["cached", "pending", "running", "failed", "unknown"]

REMOTE_TIMEOUT_S = 10.0
_unreachable: dict[str, str] = {}
"""Remote root -> why it could not be read; checked once per process, so an offline compile is not slowed
by one network timeout per step."""


@dataclass(frozen=True)
class StepPlan:
    """What to run for one step: a pure data object, not how to run it."""

    name: str
    kind: str
    config: StepBase
    inputs: tuple[str, ...]
    hash: str
    output_path: str
    fingerprint: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Plan:
    """Every step of an experiment in topological order (inputs first)."""

    spec_file: str
    experiment: ExperimentHeader
    root: str
    steps: tuple[StepPlan, ...]

    def step(self, name: str) -> StepPlan:
        return next(s for s in self.steps if s.name == name)

    def status(self, step: StepPlan) -> Status:
        """`cached` when the output's success marker exists, else `pending` (the runtime adds the others);
        `unknown` when the root is a URL that cannot be reached (offline, no credentials)."""
        if self.root in _unreachable:
            return "unknown"
        marker = join(step.output_path, SUCCESS_MARKER)
        if not is_url(marker):
            return "cached" if os.path.exists(marker) else "pending"
        found: list[bool | BaseException] = []
        check = threading.Thread(target=_remote_exists, args=(marker, found), daemon=True)
        check.start()
        check.join(REMOTE_TIMEOUT_S)  # filesystems retry for a minute offline; a plan should not wait that long
        if found and isinstance(found[0], bool):
            return "cached" if found[0] else "pending"
        reason = str(found[0]).splitlines()[0] if found else f"no answer in {REMOTE_TIMEOUT_S:.0f} s"
        _unreachable[self.root] = reason
        print(f"lmspec: cannot read {self.root} ({reason}); step statuses are unknown", file=sys.stderr)
        return "unknown"


def is_url(path: str) -> bool:
    return "://" in path


def normalize_root(root: str) -> str:
    """Local roots become absolute (the catalog records real paths); URLs stay as given, minus a trailing /."""
    return root.rstrip("/") if is_url(root) else os.path.abspath(os.path.expanduser(root))


def join(root: str, name: str) -> str:
    return f"{root}/{name}" if is_url(root) else os.path.join(root, name)


def _remote_exists(url: str, found: list[bool | BaseException]) -> None:
    import fsspec  # only remote roots pay for it

    for noisy in ("gcsfs", "s3fs", "fsspec", "google", "aiohttp"):  # they log tracebacks before raising
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        fs, inner = fsspec.core.url_to_fs(url)
        found.append(bool(fs.exists(inner)))
    except Exception as exc:  # any filesystem's error: gcsfs, s3fs, ... each raise their own types
        found.append(exc)
