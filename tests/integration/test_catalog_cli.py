"""Querying the catalog after real runs: ls, show, lineage, explain, dry runs, schema versions."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from lmspec.catalog.store import SCHEMA_VERSION
from tests.integration.conftest import Project

pytestmark = pytest.mark.integration


def _cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(project.command(*args), env=project.env(), capture_output=True, text=True, check=False)


def test_ls_show_lineage_and_explain(project: Project) -> None:
    assert project.run().returncode == 0
    root = ["--root", str(project.root)]

    listed = json.loads(_cli(project, "catalog", "ls", *root, "--json").stdout)
    assert {a["step_name"] for a in listed} == {"docs", "long", "unique", "side"}

    unique = json.loads(_cli(project, "catalog", "show", "unique", *root).stdout)
    by_hash = json.loads(_cli(project, "catalog", "show", unique["hash"][:6], *root).stdout)
    by_path = json.loads(_cli(project, "catalog", "show", unique["output_path"], *root).stdout)
    assert unique == by_hash == by_path
    assert unique["config"]["method"] == "exact"
    assert unique["inputs"] == {"long": str(project.output("long"))}

    tree = json.loads(_cli(project, "catalog", "lineage", unique["hash"], *root, "--json").stdout)
    assert (tree["step"], tree["inputs"][0]["step"], tree["inputs"][0]["inputs"][0]["step"]) == (
        "unique",
        "long",
        "docs",
    )
    assert tree["inputs"][0]["inputs"][0]["config"]["paths"] == ["data/*.jsonl"]
    text = _cli(project, "catalog", "lineage", unique["output_path"], *root).stdout
    assert "docs  ingest" in text

    project.spec.write_text(
        project.spec.read_text().replace(
            'rules = [{ kind = "gopher_quality" }]', 'rules = [{ kind = "gopher_quality", min_words = 2 }]'
        )
    )
    explained = _cli(project, "explain", str(project.spec), "long", *root).stdout
    assert "config.rules[0].min_words: 50 -> 2" in explained
    downstream = _cli(project, "explain", str(project.spec), "unique", *root).stdout
    assert "because `long` changed:\n    config.rules[0].min_words: 50 -> 2" in downstream  # the root cause
    assert "config.input" not in downstream  # not the input hash it implies

    missing = _cli(project, "catalog", "show", "nope", *root)
    assert missing.returncode == 2
    assert "no artifact matches `nope`" in missing.stderr


def test_dry_run_runs_nothing(project: Project) -> None:
    result = project.run("--dry-run")
    assert result.returncode == 0
    assert "4 steps, 4 would run: docs, long, unique, side" in result.stdout
    assert project.executions() == []


def test_catalog_of_another_schema_version_is_refused(project: Project) -> None:
    assert project.run().returncode == 0
    db = sqlite3.connect(project.root / "catalog.sqlite")
    with db:
        db.execute("update lmspec_meta set value = '99' where key = 'schema_version'")
    db.close()
    result = project.run()
    assert result.returncode == 1
    assert f"has schema version 99; this lmspec reads version {SCHEMA_VERSION}" in result.stderr
    assert "Traceback" not in result.stderr


def test_catalog_of_version_1_is_upgraded_in_place(project: Project) -> None:
    assert project.run().returncode == 0
    db = sqlite3.connect(project.root / "catalog.sqlite")
    with db:
        db.execute("update lmspec_meta set value = '1' where key = 'schema_version'")
        db.execute("drop table lmspec_series")
    db.close()
    assert project.run().returncode == 0
    db = sqlite3.connect(project.root / "catalog.sqlite")
    [(version,)] = db.execute("select value from lmspec_meta where key = 'schema_version'").fetchall()
    assert int(version) == SCHEMA_VERSION
    assert db.execute("select count(*) from lmspec_series").fetchone() == (0,)
    db.close()


def test_no_catalog_yet_is_a_clear_usage_error(project: Project) -> None:
    result = _cli(project, "catalog", "ls", "--root", str(project.root))
    assert result.returncode == 2
    assert "no catalog at" in result.stderr


def test_kind_without_executor_is_refused_before_anything_runs(project: Project) -> None:
    project.spec.write_text(project.spec.read_text() + '\n[steps.tok]\nkind = "train_tokenizer"\ninput = "@docs"\n')
    result = project.run(LMSPEC_TEST_UNINSTALLED="train_tokenizer")
    assert result.returncode == 2
    assert "no executor is installed for these step kinds: train_tokenizer (steps: tok)" in result.stderr
    assert project.executions() == []


def test_postgresql_catalog(project: Project) -> None:
    """The same run recorded in PostgreSQL (.ci/run starts the machine's server and sets the URL)."""
    import os

    url = os.environ.get("LMSPEC_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set LMSPEC_TEST_POSTGRES_URL (scripts/ci-postgres.sh prints one)")
    from lmspec.catalog import Catalog
    from lmspec.catalog.tables import metadata

    engine = Catalog(url).engine
    metadata.drop_all(engine)  # a clean catalog for this test
    engine.dispose()
    assert project.run("--catalog", url).returncode == 0
    assert project.run("--catalog", url, LMSPEC_TEST_FAIL="side").returncode == 0  # all cached: nothing runs
    listed = json.loads(_cli(project, "catalog", "ls", "--catalog", url, "--json").stdout)
    assert {a["step_name"]: a["status"] for a in listed} == dict.fromkeys(
        ["docs", "long", "unique", "side"], "succeeded"
    )
    tree = json.loads(_cli(project, "catalog", "lineage", "unique", "--catalog", url, "--json").stdout)
    assert tree["inputs"][0]["inputs"][0]["step"] == "docs"


def test_an_input_edited_in_place_reruns_and_explain_says_why(project: Project) -> None:
    assert project.run().returncode == 0
    data = project.dir / "data" / "a.jsonl"
    data.write_text(data.read_text() + "one more line of text here\n")
    again = project.run()
    assert again.returncode == 0
    assert project.executions().count("docs") == 2  # not served from the first run's cache
    explained = _cli(project, "explain", str(project.spec), "docs", "--root", str(project.root)).stdout
    assert "  input data changed: data/a.jsonl" in explained
