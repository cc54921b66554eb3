"""`--set PATH=VALUE` and `--unset PATH`: edits to a spec given on the command line.

An override is applied to the spec's data after `extends` is merged and before `${vars}` and `[sweep]`
are expanded, so it behaves exactly as if it were written in the file: the same validation, the same
hashes. Errors about an overridden value point at the override (`--set steps.model.optimizer.lr`), not at
a line of the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from lmspec.compiler.source_map import DataPath, Location, SourceMap
from lmspec.errors import Diagnostic, SpecError, did_you_mean


@dataclass(frozen=True)
class Override:
    """One `--set` (value given) or `--unset` (value None) of a dotted field path."""

    path: DataPath
    value: Any
    unset: bool = False

    @property
    def flag(self) -> str:
        """How the user wrote it, for messages and records: `--set steps.model.steps=200`."""
        dotted = ".".join(str(p) for p in self.path)
        return f"--unset {dotted}" if self.unset else f"--set {dotted}"


def parse_set(text: str) -> Override:
    """`steps.model.optimizer.lr=1e-3` -> an Override; the value is read as TOML, bare words as strings."""
    path_text, equals, value_text = text.partition("=")
    if not equals or not path_text.strip():
        raise SpecError([_command_line(f"--set {text}", "expected PATH=VALUE, e.g. steps.model.steps=200")])
    return Override(_path(path_text.strip()), _toml_value(value_text.strip()))


def parse_unset(text: str) -> Override:
    return Override(_path(text.strip()), None, unset=True)


def _path(text: str) -> DataPath:
    """Dotted path; all-digit parts index lists (`steps.clean.rules.1.max`)."""
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


def _toml_value(text: str) -> Any:
    """`1e-3` -> 0.001, `true` -> True, `[1, 2]` -> [1, 2], `"x"` -> "x"; a bare word that is no TOML value
    (`adamw`) is the string itself, so `--set steps.model.optimizer.name=adamw` needs no quotes."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict[str, Any], source_map: SourceMap, overrides: tuple[Override, ...]) -> None:
    """Edit `data` in place; each overridden value's location becomes its flag. Raises SpecError for paths
    that cannot be set (through a value that is not a table or list, past a list's end, an unset of nothing)."""
    problems = []
    for override in overrides:
        where = Location(override.flag, 0, 0)
        problem = _apply(data, override)
        if problem:
            problems.append(_command_line(override.flag, problem))
            continue
        if not override.unset:
            for end in range(1, len(override.path) + 1):
                source_map.keys.setdefault(override.path[:end], where)
            _locate(override.path, override.value, where, source_map)
    if problems:
        raise SpecError(problems)


def _locate(path: DataPath, value: Any, where: Location, source_map: SourceMap) -> None:
    """Every value under an overridden path is located at the override (a table given whole included)."""
    source_map.values[path] = where
    source_map.keys[path] = where
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _locate((*path, key), item, where, source_map)


def _apply(data: dict[str, Any], override: Override) -> str | None:
    """Set or unset one path; a message when the path cannot be followed."""
    node: Any = data
    for depth, part in enumerate(override.path[:-1]):
        here = ".".join(str(p) for p in override.path[: depth + 1])
        if isinstance(node, dict):
            node = node.setdefault(str(part), {}) if not override.unset else node.get(str(part))
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return _cannot_follow(node, here)
        if node is None:
            return f"`{here}` is not set"
    last = override.path[-1]
    if isinstance(node, dict):
        key = str(last)
        if override.unset:
            if key not in node:
                return f"`{key}` is not set here{did_you_mean(key, list(node))}"
            del node[key]
        else:
            node[key] = override.value
        return None
    if isinstance(node, list) and isinstance(last, int) and last < len(node) and not override.unset:
        node[last] = override.value
        return None
    return _cannot_follow(node, ".".join(str(p) for p in override.path))


def _cannot_follow(node: Any, here: str) -> str:
    if isinstance(node, list):
        return f"`{here}`: the list has {len(node)} item{'s' * (len(node) != 1)} (indices from 0)"
    return f"`{here}` goes inside a value that is not a table"


def _command_line(flag: str, message: str) -> Diagnostic:
    """A problem with a command-line override: no file line to point at, the flag names the place."""
    return Diagnostic(flag, 0, 0, "", message)
