"""Turn pydantic's validation errors into diagnostics located in the user's file, in the user's words."""

from __future__ import annotations

import datetime
import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from lmspec.compiler.source_map import DataPath, SourceMap, dotted
from lmspec.errors import Diagnostic, did_you_mean
from lmspec.schemas.base import EXPERIMENT_NAME_PATTERN, REF_PATTERN, STEP_NAME_PATTERN

_NOUNS = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "none_required": "nothing",
    "finite_number": "a finite number",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
_PATTERN_MEANINGS = {
    REF_PATTERN: 'a reference to a step, written "@step_name"',
    STEP_NAME_PATTERN: "a step name: a lowercase letter, then lowercase letters, digits or _",
    EXPERIMENT_NAME_PATTERN: "an experiment name: lowercase letters, digits, - and _, starting with a letter or digit",
}


def diagnostics_from_errors(
    errors: list[ErrorDetails],
    data: dict[str, Any],
    root: type[BaseModel],
    source_map: SourceMap,
    prefix: DataPath = (),
) -> list[Diagnostic]:
    """One diagnostic per distinct problem; errors from the branches of one union become one message."""
    grouped: dict[tuple[DataPath, bool, int], list[ErrorDetails]] = {}
    for index, error in enumerate(errors):
        path, at_key, in_branch = _data_path(error, data)
        grouped.setdefault((path, at_key, -1 if in_branch else index), []).append(error)
    out = []
    for (path, at_key, _), group in _matching_branches(grouped).items():
        full = (*prefix, *path)
        where = source_map.key(full) if at_key else source_map.value(full)
        message = _message(group, path, root, data)
        if group[0]["type"] == "missing":  # located at the enclosing table, named in full
            full = (*full, group[0]["loc"][-1])
        field = dotted(source_map.source_path(full))
        out.append(Diagnostic(where.file, where.line, where.col, field, message))
    return out


def _matching_branches(
    grouped: dict[tuple[DataPath, bool, int], list[ErrorDetails]],
) -> dict[tuple[DataPath, bool, int], list[ErrorDetails]]:
    """Drop a union branch's "expected a string, got a table" when another branch took the value and found
    problems inside it: `data = { "@a" = -1 }` is a mixture with a bad weight, not a string gone wrong."""
    deeper = {key[0] for key in grouped if key[2] == -1}

    def shadowed(key: tuple[DataPath, bool, int], group: list[ErrorDetails]) -> bool:
        path = key[0]
        type_only = all(e["type"] in _NOUNS for e in group)
        return key[2] == -1 and type_only and any(len(p) > len(path) and p[: len(path)] == path for p in deeper)

    return {key: group for key, group in grouped.items() if not shadowed(key, group)}


def _data_path(error: ErrorDetails, data: Any) -> tuple[DataPath, bool, bool]:
    """Follow the error's location through the data, skipping union tags and branch labels.

    Returns the path that exists in the data, whether the diagnostic belongs at the key
    (unknown or missing fields, bad table names) rather than at the value, and whether the
    error came from one branch of a plain union (its siblings then make one message).
    """
    path: DataPath = ()
    node = data
    in_branch = False
    for part in error["loc"]:
        if part == "[key]":
            return path, True, in_branch
        if _has(node, part):
            node = node[part]
        elif error["type"] in ("missing", "extra_forbidden") and part == error["loc"][-1]:
            return (path, True, in_branch) if error["type"] == "missing" else ((*path, part), True, in_branch)
        else:  # a discriminated-union tag ("train") or a plain union's branch label ("constrained-str")
            in_branch = in_branch or not (isinstance(node, dict) and node.get("kind") == part)
            continue
        path = (*path, part)
    if error["type"] == "union_tag_invalid":
        return (*path, "kind"), False, in_branch
    return path, error["type"] in ("union_tag_not_found", "extra_forbidden"), in_branch


def _has(node: Any, part: int | str) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _message(group: list[ErrorDetails], path: DataPath, root: type[BaseModel], data: dict[str, Any]) -> str:
    if len(group) > 1:
        wanted = sorted({_expected(e) for e in group})
        return f"expected {' or '.join(wanted)}, got {_show(group[0]['input'])}"
    error = group[0]
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        valid = _field_names(root, error["loc"][:-1])
        return f"unknown field `{name}`{did_you_mean(name, valid, listing=True)}"
    if kind == "missing":
        return f"missing required field `{error['loc'][-1]}`"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        expected = _quoted_values(str(ctx.get("expected_tags", "")))
        noun = "step kind" if len(path) == 3 and path[0] == "steps" else "kind"
        return f"unknown {noun} `{tag}`{did_you_mean(tag, expected)}; expected one of {', '.join(expected)}"
    if kind == "union_tag_not_found":
        return 'missing `kind`: every step and rule says what it is, e.g. kind = "train"'
    if kind == "literal_error":
        expected = _quoted_values(str(ctx.get("expected", "")))
        got = error["input"]
        hint = did_you_mean(got, expected) if isinstance(got, str) else ""
        return f"expected one of {', '.join(json.dumps(e) for e in expected)}, got {_show(got)}{hint}"
    return f"expected {_expected(error)}, got {_show(error['input'])}"


def _expected(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"a number {_BOUNDS[kind]} {bound}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return _PATTERN_MEANINGS.get(pattern, f"text matching {pattern}")
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length" if kind == "too_short" else "max_length")
        word = "at least" if kind == "too_short" else "at most"
        unit = "characters" if isinstance(error["input"], str) else "items"
        return f"{word} {bound} {unit}"
    if kind in _NOUNS:
        return _NOUNS[kind]
    if kind == "literal_error":
        return "one of " + str(ctx.get("expected", ""))
    message = error["msg"]
    return message[0].lower() + message[1:]


def _show(value: Any) -> str:
    """A value as the user wrote it, shortened."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, datetime.date | datetime.time):
        text = f"the {type(value).__name__} {value.isoformat()}"
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = f"a list of {len(value)}"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quoted_values(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _field_names(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The fields of the model found at `loc` (pydantic's location, tags included)."""
    tp: Any = root
    for part in loc:
        tp = _step_into(tp, part)
        if tp is None:
            return []
    models = [m for m in _members(tp) if _as_model(m, None)]
    return list(models[0].model_fields) if models else []


def _step_into(tp: Any, part: int | str) -> Any:
    for member in _members(tp):
        model = _as_model(member, None)
        if model is not None:
            kind = model.model_fields.get("kind")
            if kind is not None and part in typing.get_args(kind.annotation):
                return model  # a discriminated-union tag: stay on the chosen model
            if isinstance(part, str) and part in model.model_fields:
                return model.model_fields[part].annotation
        origin = typing.get_origin(member)
        if origin is dict:
            return typing.get_args(member)[1]
        if origin is list and isinstance(part, int):
            return typing.get_args(member)[0]
    return None


def _members(tp: Any) -> list[Any]:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [tp]


def _as_model(tp: Any, default: Any) -> Any:
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else default
