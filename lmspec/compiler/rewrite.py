"""`lmspec migrate SPEC...`: rewrite spec files to the current spec version, keeping comments and layout.

TOML goes through tomlkit and YAML through ruamel.yaml, both of which keep comments, key order and
formatting; the file is replaced only when something changed, and the change is shown as a unified diff.
"""

from __future__ import annotations

import difflib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.compiler.migrations import migrate
from lmspec.compiler.sources import YAML_SUFFIXES, display_path
from lmspec.errors import UsageError
from lmspec.schemas.experiment import SPEC_VERSION


@dataclass(frozen=True)
class Rewrite:
    """What migrating one file does."""

    path: Path
    version: int
    """The version the file was written in."""
    diff: str
    """Unified diff of the file; empty when it is already current."""


def rewrite(path: Path, write: bool) -> Rewrite:
    """Migrate one file; replace it (atomically) when `write` and something changed."""
    try:
        before = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    yaml = path.suffix in YAML_SUFFIXES
    document = _load(before, yaml, path)
    version, _ = migrate(document)
    experiment = document.get("experiment")
    if version < SPEC_VERSION and hasattr(experiment, "get"):  # a fragment has no [experiment] to hold it
        experiment["spec_version"] = SPEC_VERSION
    after = _dump(document, yaml)
    shown = display_path(path)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), shown, shown))
    if write and diff:
        tmp = path.with_name(f".{path.name}.migrate-{os.getpid()}")
        tmp.write_text(after, encoding="utf-8")
        os.replace(tmp, path)
    return Rewrite(path, version, diff)


def _load(text: str, yaml: bool, path: Path) -> Any:
    try:
        if yaml:
            from ruamel.yaml import YAML

            return YAML().load(text)
        import tomlkit

        return tomlkit.parse(text)
    except Exception as exc:  # both parsers raise their own types; `lmspec validate` locates the problem
        raise UsageError(f"{path}: cannot be parsed ({type(exc).__name__}); run `lmspec validate` on it") from None


def _dump(document: Any, yaml: bool) -> str:
    if yaml:
        from ruamel.yaml import YAML

        out = io.StringIO()
        YAML().dump(document, out)
        return out.getvalue()
    import tomlkit

    return tomlkit.dumps(document)
