"""Provenance of a run: ids, git commit, user, package versions, how it ended, and the experiment record file."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from lmspec.catalog.records import RunStart
from lmspec.compiler.plan import Plan
from lmspec.compiler.render import plan_dict
from lmspec.outputs.status import plan_statuses

RECORD_SCHEMA_VERSION = 1
VERSIONED_PACKAGES = ("lmspec", "luigi", "apache-beam", "jax", "maxtext", "fasttext-numpy2", "lm-eval", "pydantic")


@dataclass
class RunSummary:
    """How each step ended: done (ran now), reused (an earlier output's files placed: early cutoff or the
    shared cache), cached, failed (with log and error), skipped (an input failed)."""

    run_id: str
    status: dict[str, str] = field(default_factory=dict)
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)
    """step -> (log path, last lines of its error)."""
    records_skipped: dict[str, int] = field(default_factory=dict)
    """step run now -> records it skipped under `on_error = "skip"` (said on the console, not only in stats)."""
    record_path: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures and all(s in ("done", "reused", "cached") for s in self.status.values())


def plan_hash(plan: Plan) -> str:
    text = json.dumps([[s.name, s.hash] for s in plan.steps], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_experiment_record(plan: Plan, run: RunStart, summary: RunSummary) -> str:
    """`<root>/experiments/<name>-<plan hash>.json`: the spec, the resolved plan with each step's status
    on disk now, and how the run ended."""
    folder = Path(plan.root) / "experiments"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{plan.experiment.name}-{run.plan_hash}.json"
    record = {
        "schema_version": RECORD_SCHEMA_VERSION,
        "experiment": plan.experiment.model_dump(mode="json"),
        "spec_path": run.spec_path,
        "spec_text": run.spec_text,
        "git_commit": run.git_commit,
        "run_id": run.id,
        "started_at": run.started_at,
        "finished_at": time.time(),
        "status": "succeeded" if summary.ok else "failed",
        "step_status": summary.status,
        "failures": {name: {"log": log, "error": error} for name, (log, error) in summary.failures.items()},
        "plan": plan_dict(plan, plan_statuses(plan)),
    }
    tmp = path.with_suffix(f".json.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, sort_keys=True))  # one line: indenting takes json's slow Python encoder
    os.replace(tmp, path)
    return str(path)


def git_commit(folder: Path) -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 version 7), as OpenLineage wants for run ids.

    Made here because Python 3.12 has no uuid.uuid7 and importing openlineage costs 0.4 s, which an
    all-cached run should not pay.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))
