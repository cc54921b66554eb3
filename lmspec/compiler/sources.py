"""Read one spec file (TOML or YAML) into plain data plus a source map; syntax errors become diagnostics."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.compiler.source_map import DataPath, Location, SourceMap
from lmspec.compiler.toml_positions import toml_source_map
from lmspec.errors import Diagnostic, SpecError

YAML_SUFFIXES = (".yaml", ".yml")
SPEC_SUFFIXES = (".toml", *YAML_SUFFIXES)


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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error(shown, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(shown, f"cannot read: {exc}") from None
    if path.suffix in YAML_SUFFIXES:
        return _load_yaml(path, text, shown)
    return _load_toml(path, text, shown)


def _error(file: str, message: str, line: int = 1, col: int = 1) -> SpecError:
    return SpecError([Diagnostic(file, line, col, "", message)])


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
        raise _error(shown, f"TOML syntax error: {message[0].lower()}{message[1:]}", line, col) from None
    return Document(path, data, toml_source_map(text, shown))


def _load_yaml(path: Path, text: str, shown: str) -> Document:
    import yaml  # only YAML specs pay for it

    loader = _yaml_loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _error(shown, "empty spec: expected a mapping with [experiment] and [steps]")
        if not isinstance(node, yaml.MappingNode):
            raise _error(shown, "expected a mapping at the top of the file", *_mark(node.start_mark))
        source_map = SourceMap()
        problems: list[Diagnostic] = []
        data = _yaml_value(loader, node, (), shown, source_map, problems)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _mark(mark) if mark else (1, 1)
        problem = exc.problem or str(exc)
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

    source_map.values[path] = Location(shown, *_mark(node.start_mark))
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
