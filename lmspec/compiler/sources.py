"""Read one spec file (TOML or YAML) into plain data plus a source map; syntax errors become diagnostics."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.compiler.source_map import DataPath, Location, SourceMap, dotted
from lmspec.compiler.toml_positions import toml_source_map
from lmspec.errors import Diagnostic, SpecError

YAML_SUFFIXES = (".yaml", ".yml")
SPEC_SUFFIXES = (".toml", *YAML_SUFFIXES)

MAX_SPEC_BYTES = 10 * 1024 * 1024
"""A spec is a page of settings; a larger file is a mistake (or an attack) the parsers should never see."""
MAX_DEPTH = 64
"""Nesting deeper than this is refused before the recursive parsers and validators can overflow the stack."""
MAX_YAML_VALUES = 100_000
"""YAML aliases can make a small file expand to billions of values (an alias bomb); stop past this many."""
INT64 = (-(2**63), 2**63 - 1)
"""TOML integers are 64-bit: a larger one "cannot be represented losslessly" and must be an error (TOML 1.0)."""
EMPTY_SPEC = "empty spec: expected an [experiment] table and [steps.*] tables"


@dataclass
class Document:
    """One file's data as loaded, and where each piece of it was written."""

    path: Path
    data: dict[str, Any]
    source_map: SourceMap


def display_path(path: Path) -> str:
    """The path as CI annotations want it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(Path(path).resolve()) if relative.startswith("..") else relative


def load_document(path: Path) -> Document:
    """Parse `path` by its suffix; raises SpecError (never a parser exception) on unreadable or bad text."""
    shown = display_path(path)
    try:
        if path.is_dir():
            raise _error(shown, "is a directory, not a spec file")
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise _error(shown, f"spec file is {size / 2**20:.1f} MiB; the limit is {MAX_SPEC_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _error(shown, "file not found") from None
    except OSError as exc:
        raise _error(shown, f"cannot read: {exc.strerror or exc}") from None
    text = _decode(raw, shown)
    _check_depth(text, shown)
    document = _load_yaml(path, text, shown) if path.suffix in YAML_SUFFIXES else _load_toml(path, text, shown)
    problems = list(_out_of_range(document))
    if problems:
        raise SpecError(problems)
    return document


def _decode(raw: bytes, shown: str) -> str:
    """UTF-8 text; a bad byte is reported at its own line and column, not at 1:1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise _error(shown, f"not UTF-8: byte 0x{byte} cannot be decoded; save the file as UTF-8", line, col) from None


def _check_depth(text: str, shown: str) -> None:
    """Refuse brackets nested more than MAX_DEPTH deep, at the first one past the limit.

    Counted on the raw text, brackets inside strings included: a spec never comes near the limit, so an
    overcount costs nothing, and the parsers (recursive) never see a 3,000-deep array. Only the brackets are
    visited (a regex finds them), not every character.
    """
    depth = 0
    for bracket in _BRACKET.finditer(text):
        if bracket.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                at = bracket.start()
                line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
                raise _error(shown, f"nested more than {MAX_DEPTH} levels deep; a spec never needs that", line, col)
        else:
            depth = max(0, depth - 1)


_BRACKET = re.compile(r"[\[\]{}]")


def _out_of_range(document: Document) -> list[Diagnostic]:
    """Integers outside 64 bits, located: TOML says they are errors, and no engine takes them."""
    found: list[Diagnostic] = []
    stack: list[tuple[DataPath, Any]] = [((), document.data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
            where = document.source_map.value(path)
            found.append(Diagnostic(where.file, where.line, where.col, dotted(path), "integer does not fit in 64 bits"))
    return sorted(found, key=lambda d: (d.line, d.col))


def _error(file: str, message: str, line: int = 1, col: int = 1) -> SpecError:
    return SpecError([Diagnostic(file, line, col, "", message)])


_TUPLE_KEY = re.compile(r"\(((?:'[^']*',?\s?)+)\)")
"""tomllib names a table as a Python tuple (`('steps', 'raw')`); users wrote `[steps.raw]`."""
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _load_toml(path: Path, text: str, shown: str) -> Document:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            message = message[: m.start()]
        else:  # "(at end of document)"
            message = re.sub(r"\s*\(at end of document\)$", " at end of file", message)
            line = text.count("\n") + 1
            col = len(text.rsplit("\n", 1)[-1]) + 1
        message = _TUPLE_KEY.sub(lambda m: "[" + ".".join(re.findall(r"'([^']*)'", m.group(1))) + "]", message)
        raise _error(shown, f"TOML syntax error: {message[0].lower()}{message[1:]}", line, col) from None
    if not data:
        raise _error(shown, EMPTY_SPEC)
    return Document(path, data, SourceMap.deferred(lambda: toml_source_map(text, shown)))


def _load_yaml(path: Path, text: str, shown: str) -> Document:
    import yaml  # only YAML specs pay for it

    loader = _yaml_loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _error(shown, EMPTY_SPEC)
        if not isinstance(node, yaml.MappingNode):
            raise _error(shown, "expected a mapping at the top of the file", *_mark(node.start_mark))
        source_map = SourceMap()
        problems: list[Diagnostic] = []
        data = _yaml_value(loader, node, (), shown, source_map, problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _mark(mark) if mark else (1, 1)
        problem = exc.problem or str(exc)
        if exc.context and exc.context_mark and exc.problem_mark:  # an unclosed bracket is found a line late
            opened = _mark(exc.context_mark)
            problem += f" ({exc.context} that starts at line {opened[0]}, column {opened[1]})"
        raise _error(shown, f"YAML syntax error: {problem}", line, col) from None
    except yaml.YAMLError as exc:
        raise _error(shown, f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()
    if problems:
        raise SpecError(problems)
    return Document(path, data, source_map)


def _mark(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _yaml_value(
    loader: Any, node: Any, path: DataPath, shown: str, source_map: SourceMap, problems: list[Diagnostic]
) -> Any:
    import yaml

    if len(source_map.values) >= MAX_YAML_VALUES:
        raise _error(shown, f"YAML aliases expand to more than {MAX_YAML_VALUES:,} values (an alias bomb?)")
    source_map.values[path] = Location(shown, *_mark(node.start_mark))
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
        problems.append(
            Diagnostic(
                shown,
                *_mark(node.start_mark),
                "",
                f"unsupported YAML tag `{node.tag.replace('tag:yaml.org,2002:', '!!')}`: a spec holds plain data",
            )
        )
        return None
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            where = _mark(key_node.start_mark)
            if not isinstance(key, str):
                problems.append(Diagnostic(shown, *where, "", f"keys must be strings, got {key!r}"))
                continue
            if key in out:
                problems.append(Diagnostic(shown, *where, "", f"duplicate key `{key}`"))
                continue
            source_map.keys[(*path, key)] = Location(shown, *where)
            out[key] = _yaml_value(loader, value_node, (*path, key), shown, source_map, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            source_map.keys[(*path, index)] = Location(shown, *_mark(item.start_mark))
            items.append(_yaml_value(loader, item, (*path, index), shown, source_map, problems))
        return items
    return loader.construct_object(node, deep=True)


_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
"""Tables and lists; any other tag on them (`!!python/object/apply`, ...) would be dropped or run code."""

_LOADER: type | None = None

# YAML 1.1 (PyYAML) reads `1e-3` as a string; YAML 1.2 and TOML read it as a number.
# Resolving floats the 1.2 way keeps a YAML spec and its TOML twin identical.
_YAML12_FLOAT = re.compile(
    r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _yaml_loader_class() -> type:
    global _LOADER
    if _LOADER is None:
        import yaml

        class SpecLoader(yaml.SafeLoader):
            """SafeLoader with YAML 1.2 floats."""

        SpecLoader.yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+0123456789."))
        _LOADER = SpecLoader
    return _LOADER
