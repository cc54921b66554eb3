"""Runtime tests drive `lmspec run` as users do: a subprocess, real Luigi, real SQLite, real files.

The step executors are the test suite's own (tests/support/executors.py), loaded through $LMSPEC_PLUGINS.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

SPEC = """
[experiment]
name = "runtime"

[steps.docs]
kind = "ingest"
paths = ["data/*.jsonl"]
format = "text"

[steps.long]
kind = "filter"
input = "@docs"
rules = [{ kind = "gopher_quality" }]

[steps.unique]
kind = "dedup"
input = "@long"
method = "exact"

[steps.side]
kind = "dedup"
input = "@docs"
method = "exact"
"""

LINES = ["the quick brown fox", "hi", "a b c d", "the quick brown fox", "two words", "more than three words here"]


@dataclass
class Project:
    """A spec, its data and an output root in a temporary directory, plus a ledger of executions."""

    dir: Path
    spec: Path
    root: Path
    ledger: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CI", None)
        env.update(
            PYTHONPATH=str(REPO),
            LMSPEC_PLUGINS="tests.support.executors",
            LMSPEC_TEST_LEDGER=str(self.ledger),
            **extra,
        )
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "lmspec.cli", *args]

    def run(self, *args: str, root: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        cmd = self.command("run", str(self.spec), "--root", str(root or self.root), "--quiet", *args)
        return subprocess.run(cmd, env=self.env(**env), capture_output=True, text=True, timeout=120, check=False)

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        cmd = self.command("run", str(self.spec), "--root", str(self.root), "--quiet", *args)
        return subprocess.Popen(
            cmd,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def executions(self) -> list[str]:
        return [line.split()[0] for line in self.ledger.read_text().splitlines()] if self.ledger.exists() else []

    def output(self, step: str, root: Path | None = None) -> Path:
        [path] = [p for p in (root or self.root).glob(f"{step}-*") if p.is_dir() and "." not in p.name]
        return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text("\n".join(LINES) + "\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    return Project(tmp_path, spec, tmp_path / "runs", tmp_path / "ledger.txt")
