"""What a step points at, found from the markers on its fields (no step lists its own):
`@references` to other steps (`Ref`) and raw inputs read from outside the plan (`RawInput`, and
`Ref(paths=True)` fields holding a path).

The walk reads the step's raw data beside its schema class, so references are collected even from a
step that fails validation for another reason: a reference to the wrong kind of output is reported in
the same pass as schema errors, at the field that holds it.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, cast

from pydantic import BaseModel

from lmspec.schemas.base import REF_PREFIX, FieldPath, OutputKind, RawInput, Ref

Marker = Ref | RawInput
Visit = Callable[[Marker, Any, FieldPath, dict[str, Any]], None]
"""Called for each marked value: (marker, value, its path, the table that holds the field)."""


@dataclass(frozen=True)
class Reference:
    """One `@name` in a step: where it is, which step it names, what that step must produce."""

    path: FieldPath
    """Field path inside the step; a mixture weight's reference is the last element (a table key)."""
    target: str
    accepts: tuple[OutputKind, ...]

    @property
    def at_key(self) -> bool:
        """True when the reference is a table key (`{ "@a" = 0.7 }`), not a value."""
        return isinstance(self.path[-1], str) and self.path[-1].startswith(REF_PREFIX)


def references(schema: type[BaseModel], data: Any) -> list[Reference]:
    """The references in `data` (a step's unvalidated table) according to `schema`'s `Ref` fields."""
    found: dict[FieldPath, Reference] = {}

    def visit(marker: Marker, value: Any, path: FieldPath, _: dict[str, Any]) -> None:
        if isinstance(marker, Ref) and isinstance(value, str) and value.startswith(REF_PREFIX):
            found[path] = Reference(path, value[len(REF_PREFIX) :], marker.accepts)

    _model(schema, data, (), visit)
    return list(found.values())


def raw_inputs(schema: type[BaseModel], data: Any) -> list[tuple[str, bool]]:
    """The paths, globs and URLs a step reads from outside the plan, each with whether it may be a Hub dataset."""
    found: dict[FieldPath, tuple[str, bool]] = {}

    def visit(marker: Marker, value: Any, path: FieldPath, table: dict[str, Any]) -> None:
        if not isinstance(value, str) or value.startswith(REF_PREFIX):
            return
        if isinstance(marker, RawInput):
            hub = marker.hub_when is not None and table.get(marker.hub_when[0]) == marker.hub_when[1]
            found[path] = (value, hub)
        elif marker.paths:
            found[path] = (value, False)

    _model(schema, data, (), visit)
    return list(found.values())


def references_in_paths(schema: type[BaseModel], data: Any) -> list[FieldPath]:
    """Fields that take only paths (`RawInput`) but hold an `@reference`: a mistake worth its own message."""
    found: list[FieldPath] = []

    def visit(marker: Marker, value: Any, path: FieldPath, _: dict[str, Any]) -> None:
        if isinstance(marker, RawInput) and isinstance(value, str) and value.startswith(REF_PREFIX):
            found.append(path)

    _model(schema, data, (), visit)
    return found


def _model(schema: type[BaseModel], data: Any, path: FieldPath, visit: Visit) -> None:
    if not isinstance(data, dict):
        return
    for name, walk in _field_walkers(schema):
        if name in data:
            walk(data[name], (*path, name), data, visit)


Walk = Callable[[Any, FieldPath, dict[str, Any], Visit], None]
"""Walks one value by its annotation: (value, its path, the table that holds the field, visit)."""


@functools.cache
def _field_walkers(schema: type[BaseModel]) -> tuple[tuple[str, Walk], ...]:
    """A walk for each field of `schema` that can hold a marked value somewhere inside: the only ones worth
    walking (a 1,000-step plan walks its steps several times; most fields are numbers and plain tables).
    Built once per class from the annotations, so walking a value reads no annotation again."""
    return tuple(
        (name, _walker(field.annotation, tuple(field.metadata)))
        for name, field in schema.model_fields.items()
        if any(isinstance(m, Ref | RawInput) for m in field.metadata)
        or (field.annotation is not None and _may_hold_marker(cast(Any, field.annotation)))
    )


@functools.cache
def _may_hold_marker(annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated and any(isinstance(m, Ref | RawInput) for m in args[1:]):
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return bool(_field_walkers(annotation))
    return any(_may_hold_marker(arg) for arg in args if not isinstance(arg, str | int | float))


def _skip(value: Any, path: FieldPath, table: dict[str, Any], visit: Visit) -> None:
    """The walk of a value that cannot hold a marked one."""


def _walker(annotation: Any, metadata: tuple[Any, ...]) -> Walk:
    """The walk of a value of type `annotation` (with `metadata` from the `Annotated` around it)."""
    marker = next((m for m in metadata if isinstance(m, Ref | RawInput)), None)
    if marker is not None:
        return lambda value, path, table, visit: visit(marker, value, path, table)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _walker(args[0], (*metadata, *args[1:]))
    if origin in (typing.Union, types.UnionType):
        return _union_walker(args)
    if origin is list and _may_hold_marker(args[0]):
        return _list_walker(_walker(args[0], ()))
    if origin is dict and (_may_hold_marker(args[0]) or _may_hold_marker(args[1])):
        return _dict_walker(_walker(args[0], ()), _walker(args[1], ()))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and _may_hold_marker(annotation):
        return lambda value, path, table, visit: _model(annotation, value, path, visit)
    return _skip


def _list_walker(item: Walk) -> Walk:
    def walk(value: Any, path: FieldPath, table: dict[str, Any], visit: Visit) -> None:
        if isinstance(value, list):
            for i, element in enumerate(value):
                item(element, (*path, i), table, visit)

    return walk


def _dict_walker(key: Walk, item: Walk) -> Walk:
    def walk(value: Any, path: FieldPath, table: dict[str, Any], visit: Visit) -> None:
        if isinstance(value, dict):
            for name, element in value.items():
                key(name, (*path, name), table, visit)
                item(element, (*path, name), table, visit)

    return walk


def _union_walker(args: tuple[Any, ...]) -> Walk:
    """The arms worth walking: for a union of tagged models, only the one the value's `kind` picks."""
    arms = tuple(_walker(arm, ()) for arm in args)
    tagged = [
        (typing.get_args(arm.model_fields["kind"].annotation), walk)
        for arm, walk in zip(args, arms, strict=True)
        if isinstance(arm, type) and issubclass(arm, BaseModel) and "kind" in arm.model_fields
    ]

    def walk(value: Any, path: FieldPath, table: dict[str, Any], visit: Visit) -> None:
        picked = arms
        if tagged and isinstance(value, dict) and "kind" in value:
            picked = tuple(arm for kinds, arm in tagged if any(value["kind"] == kind for kind in kinds))
        for arm in picked:
            arm(value, path, table, visit)

    return walk
