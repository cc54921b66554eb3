"""Spec versions: an old spec compiles as before (migrated in memory, with a note) and `lmspec migrate`
rewrites it in place, comments and layout kept, to a file with the same hashes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.cli import main
from lmspec.compiler import compile_spec
from lmspec.schemas.experiment import SPEC_VERSION

OLD_TOML = """\
# A version-1 spec: runners were named by their import path.
[experiment]
name = "old"   # kept as written

[steps.docs]
kind = "ingest"
paths = ["a.jsonl"]
format = "jsonl"
# the in-process runner, by its import path
runner = { name = "apache_beam.runners.portability.fn_api_runner.FnApiRunner", options = { direct_num_workers = 2 } }

[steps.unique]
kind = "dedup"
input = "@docs"
method = "exact"
"""

OLD_YAML = """\
# A version-1 spec in YAML.
experiment:
  name: old   # kept as written
steps:
  docs:
    kind: ingest
    paths: [a.jsonl]
    format: jsonl
    runner:
      name: apache_beam.runners.dask.dask_runner.DaskRunner  # by import path
"""


def hashes(spec: Path) -> dict[str, str]:
    return {s.name: s.hash for s in compile_spec(spec, "/runs").steps}


def test_an_old_spec_compiles_with_a_note(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(OLD_TOML, "old.toml")
    plan = compile_spec(spec, "/runs")
    assert plan.step("docs").config.runner.name == "FnApiRunner"  # type: ignore[attr-defined]
    assert (
        f"old.toml: note: written in spec version 1, read as version {SPEC_VERSION} (1 change); "
        "`lmspec migrate old.toml` rewrites it"
    ) in capsys.readouterr().err


@pytest.mark.parametrize(("name", "text"), [("old.toml", OLD_TOML), ("old.yaml", OLD_YAML)])
def test_migrate_rewrites_keeping_comments_and_hashes(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    spec = write_spec(text, name)
    before = hashes(spec)
    assert main(["migrate", str(spec), "--dry-run"]) == 0
    assert spec.read_text() == text  # a dry run writes nothing
    assert main(["migrate", str(spec)]) == 0
    out = capsys.readouterr().out
    migrated = spec.read_text()
    assert "1 spec changed" in out
    assert "-runner = " in out or "-      name: apache_beam" in out  # the diff is shown
    for comment in ("# kept as written", "version-1 spec"):
        assert comment in migrated
    assert "apache_beam" not in migrated.split("# by import path")[0].replace("# the in-process", "")
    assert f"spec_version = {SPEC_VERSION}" in migrated or f"spec_version: {SPEC_VERSION}" in migrated
    assert hashes(spec) == before
    assert main(["migrate", str(spec)]) == 0
    assert "0 specs changed" in capsys.readouterr().out
