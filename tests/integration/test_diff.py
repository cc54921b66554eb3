"""`lmspec diff` on a real git history: what a spec change re-runs, reuses and costs, as a PR comment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

GOLDEN = REPO / "tests/golden/quickstart.diff.md"
BUDGET = 'tags = ["quickstart"]\nbudget = { usd = 1, flops = 1e12 }'
SIDE = '\n[steps.side]\nkind = "dedup"\ninput = "@docs"\nmethod = "exact"\n'


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def lmspec(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "lmspec.cli", *args], cwd=folder, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Three commits of one spec: the golden quickstart, a tighter filter, then a new step and a removed one."""
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "reviewer@example.com")
    git(tmp_path, "config", "user.name", "Reviewer")
    spec = tmp_path / "spec.toml"
    text = (REPO / "tests/golden/quickstart.toml").read_text()
    for message, edit in [
        ("base", text),
        ("tighter filter", text.replace("max = 0.9 }", "max = 0.8 }")),
        (
            "side dedup, no eval, a budget",
            text.replace("max = 0.9 }", "max = 0.8 }").replace('tags = ["quickstart"]', BUDGET).split("[steps.eval]")[0]
            + SIDE,
        ),
    ]:
        spec.write_text(edit)
        git(tmp_path, "add", "spec.toml")
        git(tmp_path, "commit", "-q", "-m", message)
    return spec


def test_diff_against_a_revision_as_a_pull_request_comment(history: Path) -> None:
    result = lmspec(
        history.parent, "diff", "spec.toml", "--against", "HEAD~2", "--format", "markdown", "--root", "runs"
    )
    assert result.returncode == 0, result.stderr
    if os.environ.get("LMSPEC_UPDATE_GOLDEN"):
        GOLDEN.write_text(result.stdout)
    assert result.stdout == GOLDEN.read_text()


def test_diff_of_two_files_as_json(history: Path) -> None:
    old = history.parent / "old.toml"
    old.write_text((REPO / "tests/golden/quickstart.toml").read_text())
    result = lmspec(history.parent, "diff", "old.toml", "spec.toml", "--format", "json", "--root", "runs")
    found = json.loads(result.stdout)
    changes = {step["name"]: step["change"] for step in found["steps"]}
    assert changes == {
        "clean": "re-run",
        "deduped": "re-run",
        "tokenizer": "re-run",
        "tokens": "re-run",
        "model": "re-run",
        "side": "new",
        "eval": "removed",
        "docs": "reused",
    }
    clean = next(step for step in found["steps"] if step["name"] == "clean")
    model = next(step for step in found["steps"] if step["name"] == "model")
    assert clean["fields"] == ["config.rules[2].max: 0.9 -> 0.8"]
    assert (model["fields"], model["because"]) == ([], ["clean"])  # the root cause, not "input changed"
    assert found["runs"]["flops"] == model["estimate"]["flops"] > 0


def test_diff_with_a_bad_revision_is_a_usage_error(history: Path) -> None:
    result = lmspec(history.parent, "diff", "spec.toml", "--against", "nope~9")
    assert result.returncode == 2
    assert "git archive failed" in result.stderr
