"""Expansion of a spec file into one flat document: `extends`, then `${vars.x}`, then `[sweep]` grids."""

from __future__ import annotations

import copy
import itertools
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lmspec.compiler.graph import walk
from lmspec.compiler.migrations import migrate
from lmspec.compiler.overrides import Override, apply_overrides
from lmspec.compiler.shared_scoring import hand_written_scores, share_scoring
from lmspec.compiler.source_map import DataPath, Location, SourceMap, dotted
from lmspec.compiler.sources import Document, display_path, load_document
from lmspec.errors import Diagnostic, SpecError, did_you_mean
from lmspec.schemas.base import REF_PATTERN
from lmspec.schemas.experiment import SPEC_VERSION

_REF = re.compile(REF_PATTERN)
_SUBSTITUTION = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_VAR = re.compile(r"^vars\.([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass
class Expanded:
    """A spec after expansion: plain data, where each piece came from, and whether it is a fragment."""

    file: str
    data: dict[str, Any]
    source_map: SourceMap
    is_fragment: bool
    diagnostics: list[Diagnostic]
    """Problems found while expanding (vars, sweep); validation goes on to find the rest."""
    extended_at: dict[str, Location] = field(default_factory=dict)
    """Extended file (as shown in messages) -> the `extends` entry that brought it in."""

    def diagnostic(self, path: DataPath, message: str) -> Diagnostic:
        """A problem found after validation (a budget overrun), located at the value of `path`."""
        where = self.source_map.value(path)
        return self.pointed(Diagnostic(where.file, where.line, where.col, dotted(path), message))

    def pointed(self, diagnostic: Diagnostic) -> Diagnostic:
        """A problem inside an extended file, with where that file was extended from appended."""
        where = self.extended_at.get(diagnostic.file)
        if where is None:
            return diagnostic
        return replace(diagnostic, message=diagnostic.message + extended_note(where))


class _Problems:
    """Diagnostics gathered while expanding, located through the document's source map."""

    def __init__(self, source_map: SourceMap) -> None:
        self.source_map = source_map
        self.items: list[Diagnostic] = []

    def add(self, path: DataPath, message: str, at_key: bool = False) -> None:
        where = self.source_map.key(path) if at_key else self.source_map.value(path)
        field = dotted(self.source_map.source_path(path))
        self.items.append(Diagnostic(where.file, where.line, where.col, field, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.items)


def expand(path: Path, overrides: tuple[Override, ...] = ()) -> Expanded:
    """Load `path` and everything it extends, apply command-line overrides, substitute vars and expand sweeps;
    raises SpecError."""
    extended_at: dict[str, Location] = {}
    document = _load_with_extends(path.resolve(), (), extended_at)
    apply_overrides(document.data, document.source_map, overrides)
    problems = _Problems(document.source_map)
    _substitute_vars(document.data, problems)
    for field_path, message in hand_written_scores(document.data):
        problems.add(field_path, message, at_key=True)
    if not problems.items:  # sweeping unresolved text would only repeat the same errors per point
        _expand_sweep(document.data, problems)
    return Expanded(
        display_path(path),
        document.data,
        document.source_map,
        "experiment" not in document.data,
        problems.items,
        extended_at,
    )


# -- extends -----------------------------------------------------------------------------------


def _load_with_extends(path: Path, chain: tuple[Path, ...], extended_at: dict[str, Location]) -> Document:
    document = load_document(path)
    _migrate_in_memory(document)
    problems = _Problems(document.source_map)
    experiment = document.data.get("experiment")
    extends = experiment.pop("extends", []) if isinstance(experiment, dict) else []
    if not isinstance(extends, list) or not all(isinstance(e, str) for e in extends):
        problems.add(("experiment", "extends"), 'expected a list of spec paths, e.g. extends = ["base/model.toml"]')
        problems.raise_if_any()
    merged: dict[str, Any] = {}
    merged_map = SourceMap()
    for index, relative in enumerate(extends):
        where = ("experiment", "extends", index)
        target = (path.parent / relative).resolve()
        if target in (*chain, path):
            loop = (*chain, path)[(*chain, path).index(target) :]
            cycle = " -> ".join(display_path(p) for p in (*loop, target))
            problems.add(where, f"extends cycle: {cycle}")
            continue
        if target.is_dir():
            problems.add(where, f"`{relative}` is a directory (resolved to {target}); extends takes spec files")
            continue
        if not target.is_file():
            problems.add(
                where,
                f"extended file not found: {relative} (resolved to {target}); "
                "paths are relative to the file that extends them",
            )
            continue
        try:
            extended_at.setdefault(display_path(target), document.source_map.value(where))
            base = _load_with_extends(target, (*chain, path), extended_at)
        except SpecError as exc:
            shown = display_path(target)
            problems.items.extend(
                replace(d, message=d.message + extended_note(document.source_map.value(where)))
                if d.file == shown
                else d
                for d in exc.diagnostics
            )
            continue
        replaced: list[DataPath] = []
        merged = _deep_merge(merged, base.data, (), replaced)
        merged_map.overlay(base.source_map, replaced)
    problems.raise_if_any()
    if not extends:
        return document
    replaced = []
    merged = _deep_merge(merged, document.data, (), replaced)
    merged_map.overlay(document.source_map, replaced)
    return Document(path, merged, merged_map)


def _migrate_in_memory(document: Document) -> None:
    """An older spec compiles as it always did: migrated here, with a note saying how to rewrite the file."""
    version, changes = migrate(document.data)
    if version < SPEC_VERSION and display_path(document.path) not in _noted:
        _noted.add(display_path(document.path))
        print(
            f"{display_path(document.path)}: note: written in spec version {version}, read as version {SPEC_VERSION}"
            f" ({len(changes)} change{'s' * (len(changes) != 1)}); `lmspec migrate {display_path(document.path)}`"
            " rewrites it",
            file=sys.stderr,
        )


_noted: set[str] = set()
"""Files whose migration note this process has printed."""


def extended_note(where: Location) -> str:
    return f" (in a file extended at {where.file}:{where.line})"


def _deep_merge(base: dict[str, Any], over: dict[str, Any], path: DataPath, replaced: list[DataPath]) -> dict[str, Any]:
    """Tables merge key by key; any other value in `over` replaces the base value (lists included)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value, (*path, key), replaced)
        else:
            if key in out:
                replaced.append((*path, key))
            out[key] = value
    return out


# -- vars --------------------------------------------------------------------------------------


def _substitute_vars(data: dict[str, Any], problems: _Problems) -> None:
    variables = data.get("vars", {})
    if not isinstance(variables, dict):
        problems.add(("vars",), "expected a table of constants, e.g. [vars] seq_len = 256")
        return
    for name, value in variables.items():
        if _mentions_substitution(value):
            problems.add(("vars", name), "a var cannot use ${...} itself; write its value out")
    for key in data:
        if key != "vars":
            data[key] = _substitute(data[key], (key,), variables, problems)


def _mentions_substitution(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value.replace("$${", "")
    if isinstance(value, list):
        return any(_mentions_substitution(v) for v in value)
    if isinstance(value, dict):
        return any(_mentions_substitution(v) for v in value.values())
    return False


def _substitute(value: Any, path: DataPath, variables: dict[str, Any], problems: _Problems) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, (*path, k), variables, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), variables, problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _SUBSTITUTION.fullmatch(value)
    if whole and whole.group(1) is not None:
        name = _var_name(whole.group(1), path, variables, problems)
        return copy.deepcopy(variables[name]) if name else value

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:  # "$${" escapes a literal "${"
            return "${"
        name = _var_name(match.group(1), path, variables, problems)
        if name is None:
            return match.group()
        found = variables[name]
        if isinstance(found, (dict, list)):
            problems.add(
                path,
                f"${{vars.{name}}} is a {'table' if isinstance(found, dict) else 'list'} "
                "and cannot be spliced into text; use it as the whole value",
            )
            return match.group()
        return str(found).lower() if isinstance(found, bool) else str(found)

    return _SUBSTITUTION.sub(replace, value)


def _var_name(reference: str, path: DataPath, variables: dict[str, Any], problems: _Problems) -> str | None:
    m = _VAR.match(reference.strip())
    if not m:
        problems.add(
            path,
            f"unknown substitution ${{{reference}}}: only ${{vars.NAME}} is supported (write $${{ for a literal ${{)",
        )
        return None
    name = m.group(1)
    if name not in variables:
        problems.add(
            path, f"undefined variable ${{vars.{name}}}{did_you_mean(name, variables)}; define it under [vars]"
        )
        return None
    return name


# -- sweep -------------------------------------------------------------------------------------


def _expand_sweep(data: dict[str, Any], problems: _Problems) -> None:
    sweep = data.get("sweep")
    steps = data.get("steps")
    if not sweep:
        return
    if not isinstance(sweep, dict) or not isinstance(steps, dict):
        if not isinstance(sweep, dict):
            problems.add(("sweep",), 'expected a table of "steps.NAME.FIELD" = [values]')
        return
    axes: list[tuple[str, tuple[str | int, ...], list[Any]]] = []
    for key, values in sweep.items():
        target = _sweep_target(key, steps, problems)
        if not isinstance(values, list) or not values:
            problems.add(("sweep", key), "expected a non-empty list of values to try")
        elif len({repr(v) for v in values}) != len(values):
            problems.add(("sweep", key), "lists the same value twice")
        elif target is not None:
            axes.append((key, target, values))
    if problems.items:
        return
    direct: dict[str, list[int]] = {}
    for axis, (_, target, _values) in enumerate(axes):
        direct.setdefault(str(target[0]), []).append(axis)
    affected = _affecting_axes(steps, direct)

    expanded: dict[str, Any] = {}
    copies: dict[str, list[str]] = {}
    source_map = problems.source_map
    for point in itertools.product(*(range(len(values)) for _, _, values in axes)):
        names = {name: _point_name(name, affected[name], axes, point) for name in steps}
        for name, step in steps.items():
            new_name = names[name]
            if new_name in expanded:
                continue
            if new_name != name and new_name in steps:
                problems.add(("steps", name), f"sweep copy `{new_name}` collides with an existing step", at_key=True)
                continue
            copies.setdefault(name, []).append(new_name)
            copied = _rename_refs(copy.deepcopy(step), names)
            if new_name != name:
                source_map.copy_subtree(("steps", name), ("steps", new_name))
            for axis in direct.get(name, []):
                key, target, values = axes[axis]
                _set_path(copied, target[1:], values[point[axis]])
                source_map.values[("steps", new_name, *target[1:])] = source_map.value(("sweep", key, point[axis]))
                source_map.keys.setdefault(("steps", new_name, *target[1:]), source_map.key(("sweep", key)))
            expanded[new_name] = copied
    own = {name: [axes[a][1][1:] for a in direct[name]] for name in direct if tuple(direct[name]) == affected[name]}
    share_scoring(steps, expanded, copies, own, source_map)
    data["steps"] = expanded


def _sweep_target(key: str, steps: dict[str, Any], problems: _Problems) -> tuple[str | int, ...] | None:
    parts = key.split(".")
    if len(parts) < 3 or parts[0] != "steps" or not all(parts):
        problems.add(("sweep", key), 'sweep keys are dotted step fields, e.g. "steps.model.optimizer.lr"', at_key=True)
        return None
    name = parts[1]
    if name not in steps:
        problems.add(("sweep", key), f"no step named `{name}`{did_you_mean(name, steps)}", at_key=True)
        return None
    target: tuple[str | int, ...] = (name,)
    node: Any = steps[name]
    for position, part in enumerate(parts[2:]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                problems.add(
                    ("sweep", key),
                    f"`{part}` is not an index of the {len(node)}-item list `{'.'.join(parts[2 : 2 + position])}`",
                    at_key=True,
                )
                return None
            target = (*target, int(part))
            node = node[int(part)]
        elif isinstance(node, dict):
            target = (*target, part)
            node = node.get(part, {})  # a table the step leaves to defaults is created
        else:
            problems.add(
                ("sweep", key), f"`{'.'.join(parts[2 : 2 + position])}` is not a table in step `{name}`", at_key=True
            )
            return None
    return target


def _affecting_axes(steps: dict[str, Any], direct: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
    """For each step, the sweep axes that change it: its own, and those of every step upstream of it."""
    upstream = {name: sorted(raw_references(step) & steps.keys()) for name, step in steps.items()}
    order, _cycles = walk(steps, lambda name: ((u, None) for u in upstream[name]))  # cycles: reported later
    affected: dict[str, tuple[int, ...]] = {}
    for name in order:
        axes = set(direct.get(name, []))
        for up in upstream[name]:
            axes.update(affected.get(up, ()))
        affected[name] = tuple(sorted(axes))
    return affected


def raw_references(value: Any) -> set[str]:
    """Names of the steps referenced anywhere in unvalidated step data (values and table keys)."""
    found: set[str] = set()
    if isinstance(value, str) and _REF.match(value):
        found.add(value[1:])
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= raw_references(key) | raw_references(item)
    elif isinstance(value, list):
        for item in value:
            found |= raw_references(item)
    return found


def _point_name(name: str, axes_here: tuple[int, ...], axes: list[Any], point: tuple[int, ...]) -> str:
    suffix = "".join(f"_{_slug(axes[a][1][-1])}_{_slug(axes[a][2][point[a]])}" for a in axes_here)
    return name + suffix


def _slug(value: Any) -> str:
    """A value as step-name characters: 1e-3 -> 0p001, -2 -> m2, "Fast Run" -> fast_run."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, (int, float)):
        text = repr(value).replace(".", "p").replace("-", "m").replace("+", "")
    else:
        text = str(value).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_") or "x"


def _rename_refs(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str) and _REF.match(value) and value[1:] in names:
        return "@" + names[value[1:]]
    if isinstance(value, dict):
        return {_rename_refs(k, names): _rename_refs(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename_refs(v, names) for v in value]
    return value


def _set_path(node: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[part]
    node[path[-1]] = copy.deepcopy(value)
