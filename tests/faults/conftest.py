"""Fault injection: `lmspec run` killed at every phase, catalogs deleted, locked or read-only, many runs at
once and hundreds in a row. The runs are real processes over the test suite's cheap executors
(tests/support/executors.py), in the same temporary projects as the integration tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lmspec.outputs.lifecycle import LOG_NAME, RESULT_NAME, SUCCESS_MARKER
from tests.integration.conftest import Project, project

__all__ = ["FAULTS", "STEPS", "Project", "catalog_rows", "cli", "leftovers", "project", "same_outputs"]

STEPS = ("docs", "long", "unique", "side")
LEFTOVER_SUFFIXES = (".lease", ".tmp-", ".old-", ".failed", ".resume")
"""What an attempt leaves beside an output (`lmspec.outputs.lifecycle`): none may outlive a finished run."""
RUN_SPECIFIC = {LOG_NAME, RESULT_NAME, SUCCESS_MARKER}
"""Files of an output that hold timings, run ids or absolute paths; compared by content only where stable."""


FAULTS = [pytest.mark.faults, pytest.mark.integration]
"""Every module here: `pytestmark = FAULTS` (real processes, so out of the fast tier too)."""


def cli(project: Project, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`lmspec ARGS` as a user runs it, with the project's plugins and environment."""
    return subprocess.run(
        project.command(*args), env=project.env(**env), capture_output=True, text=True, timeout=300, check=False
    )


def leftovers(root: Path) -> list[str]:
    """Names under `root` that an attempt left behind."""
    return sorted(p.name for p in root.iterdir() if any(s in p.name for s in LEFTOVER_SUFFIXES))


def catalog_rows(project: Project, root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Step name -> its artifact as `lmspec catalog ls --json` shows it."""
    listed = cli(project, "catalog", "ls", "--root", str(root or project.root), "--json")
    assert listed.returncode == 0, listed.stderr
    return {a["step_name"]: a for a in json.loads(listed.stdout)}


def same_outputs(project: Project, clean_root: Path) -> None:
    """Every step's output under the project's root is the one a clean run made under `clean_root`: the same
    files, byte for byte, and the same record of config, counts and metrics."""
    for step in STEPS:
        got, want = project.output(step), project.output(step, clean_root)
        assert sorted(p.name for p in got.iterdir()) == sorted(p.name for p in want.iterdir()), step
        for file in want.iterdir():
            if file.name not in RUN_SPECIFIC:
                assert (got / file.name).read_bytes() == file.read_bytes(), f"{step}/{file.name}"
        records = [json.loads((out / RESULT_NAME).read_text()) for out in (got, want)]
        for part, key in (("artifact", "config"), ("artifact", "fingerprint"), ("end", "counts"), ("end", "metrics")):
            assert records[0][part][key] == records[1][part][key], f"{step}: {part}.{key}"
