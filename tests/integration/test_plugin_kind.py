"""A third-party step kind, registered by entry point, goes through every stage a built-in kind does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

SPEC = """
[experiment]
name = "plugin"

[steps.docs]
kind = "ingest"
paths = ["data/*.jsonl"]
format = "jsonl"

[steps.count]
kind = "{kind}"
input = "@docs"
min_length = 3
"""


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """An installed distribution that declares `word_count` in the `lmspec.step_kinds` entry-point group."""
    dist = tmp_path / "site" / "lmspec_wordcount-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: lmspec-wordcount\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[lmspec.step_kinds]\nword_count = tests.support.plugin_kind\n")
    env = {k: v for k, v in os.environ.items() if k not in ("LMSPEC_PLUGINS", "CI")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), str(REPO)])
    return env


def lmspec(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lmspec.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def write_project(folder: Path, kind: str) -> Path:
    (folder / "data").mkdir(exist_ok=True)
    lines = [{"id": "a", "text": "one two three four"}, {"id": "b", "text": "a bb ccc dddd eeeee"}]
    (folder / "data" / "docs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    spec = folder / "plugin.toml"
    spec.write_text(SPEC.format(kind=kind))
    return spec


def test_plugin_kind_validates_compiles_runs_and_is_catalogued(tmp_path: Path, plugin_env: dict[str, str]) -> None:
    spec = write_project(tmp_path, "word_cont")
    typo = lmspec(plugin_env, tmp_path, "validate", str(spec))
    assert typo.returncode == 1
    assert (
        "plugin.toml:11:8: error: steps.count.kind: unknown step kind `word_cont`; did you mean `word_count`?"
        in typo.stdout
    )

    spec = write_project(tmp_path, "word_count")
    assert lmspec(plugin_env, tmp_path, "validate", str(spec)).stdout.strip() == "1 spec valid"

    schema = json.loads(lmspec(plugin_env, tmp_path, "schema", "--output", "-").stdout)
    assert schema["$defs"]["WordCount"]["properties"]["kind"]["const"] == "word_count"
    assert schema["$defs"]["WordCount"]["properties"]["min_length"]["description"].startswith("Only words")

    plan = json.loads(lmspec(plugin_env, tmp_path, "compile", str(spec), "--format", "json").stdout)
    count = next(step for step in plan["steps"] if step["name"] == "count")
    assert (count["kind"], count["inputs"], count["config"]["min_length"]) == ("word_count", ["docs"], 3)
    spec.write_text(spec.read_text().replace("min_length = 3", "min_length = 4"))
    replanned = json.loads(lmspec(plugin_env, tmp_path, "compile", str(spec), "--format", "json").stdout)
    assert next(s for s in replanned["steps"] if s["name"] == "count")["hash"] != count["hash"]  # hashed like built-ins

    run = lmspec(plugin_env, tmp_path, "run", str(spec), "--quiet", "--root", str(tmp_path / "runs"))
    assert run.returncode == 0, run.stdout + run.stderr
    shown = json.loads(
        lmspec(plugin_env, tmp_path, "catalog", "show", "count", "--json", "--root", str(tmp_path / "runs")).stdout
    )
    assert (shown["kind"], shown["status"], shown["metrics"]) == ("word_count", "succeeded", {"words": 4})
    assert list(shown["inputs"]) == ["docs"]


def test_without_the_plugin_the_kind_is_unknown(tmp_path: Path, plugin_env: dict[str, str]) -> None:
    spec = write_project(tmp_path, "word_count")
    env = {**plugin_env, "PYTHONPATH": str(REPO)}  # the distribution is not installed
    result = lmspec(env, tmp_path, "validate", str(spec))
    assert result.returncode == 1
    assert "unknown step kind `word_count`" in result.stdout
