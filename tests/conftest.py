"""Shared helpers: write a spec into a temporary directory and collect what the compiler says about it."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from lmspec.compiler import check
from lmspec.errors import Diagnostic, SpecError

REPO = Path(__file__).resolve().parent.parent

# CI replays the same examples on every run, so a red build always reproduces; local runs explore new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def private_fingerprint_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Input fingerprints are cached per user; the tests (and the lmspec processes they start) keep their own."""
    os.environ["LMSPEC_CACHE_DIR"] = str(tmp_path_factory.mktemp("lmspec-cache"))


def diagnostics_of(path: Path) -> list[Diagnostic]:
    """Every diagnostic for `path`; an empty list when it is valid."""
    try:
        check(path)
    except SpecError as exc:
        return exc.diagnostics
    return []


@pytest.fixture
def write_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write dedented text to tmp_path/NAME and work from tmp_path, so diagnostics show `NAME`."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "spec.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
