"""Source positions of a TOML spec are found only when a problem needs them (a valid spec never pays for them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import lmspec.compiler.sources as sources
from lmspec.compiler import compile_spec
from lmspec.compiler.source_map import Location, SourceMap
from tests.conftest import diagnostics_of

SPEC = '[experiment]\nname = "x"\n\n[steps.raw]\nkind = "ingest"\npaths = ["a.jsonl"]\nformat = "jsonl"\n'


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files whose positions were scanned (the real scanner still runs)."""
    scanned: list[str] = []
    real = sources.toml_source_map

    def counting(text: str, file: str) -> SourceMap:
        scanned.append(file)
        return real(text, file)

    monkeypatch.setattr(sources, "toml_source_map", counting)
    return scanned


def test_a_deferred_map_is_built_once_when_first_read() -> None:
    built: list[int] = []

    def build() -> SourceMap:
        built.append(1)
        found = SourceMap()
        found.values[("steps", "raw")] = Location("spec.toml", 4, 1)
        return found

    lazy = SourceMap.deferred(build)
    assert built == []
    assert lazy.value(("steps", "raw", "kind")) == Location("spec.toml", 4, 1)
    lazy.keys[("steps",)] = Location("spec.toml", 4, 2)
    assert lazy.key(("steps", "raw")) == Location("spec.toml", 4, 2)
    assert built == [1]


def test_a_valid_spec_compiles_without_scanning_positions(
    write_spec: Callable[..., Path], scans: list[str], tmp_path: Path
) -> None:
    plan = compile_spec(write_spec(SPEC), str(tmp_path / "runs"))
    assert [s.name for s in plan.steps] == ["raw"]
    assert scans == []


def test_an_invalid_spec_is_still_located(write_spec: Callable[..., Path], scans: list[str]) -> None:
    path = write_spec(SPEC.replace('format = "jsonl"', 'format = "jsonl"\nshards = "many"'))
    [found] = diagnostics_of(path)
    assert (found.line, found.col, found.field) == (8, 1, "steps.raw.shards")  # an unknown key, at the key
    assert scans == ["spec.toml"]
