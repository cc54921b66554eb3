"""`lmspec run --only/--until` executes exactly the asked steps and what they need; `--set` runs the edited plan."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Project

pytestmark = pytest.mark.integration


def test_only_and_until_run_exactly_the_expected_steps(project: Project) -> None:
    assert project.run("--only", "side").returncode == 0
    assert sorted(project.executions()) == ["docs", "side"]
    assert project.run("--until", "long").returncode == 0
    assert sorted(project.executions()) == ["docs", "long", "side"]  # docs was cached
    assert project.run().returncode == 0
    assert sorted(project.executions()) == ["docs", "long", "side", "unique"]


def test_an_override_runs_the_edited_plan_and_is_recorded(project: Project) -> None:
    result = project.run("--set", 'steps.unique.method="exact"', "--set", "steps.long.rules.0.min_words=3")
    assert result.returncode == 0, result.stderr
    [record] = (project.root / "experiments").glob("*.json")
    overrides = json.loads(record.read_text())["plan"]["overrides"]
    assert overrides == ['--set steps.unique.method="exact"', "--set steps.long.rules.0.min_words=3"]
