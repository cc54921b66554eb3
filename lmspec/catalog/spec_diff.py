"""What differs between the variants a report compares: a field diff of their steps, through references.

Starting from each variant's evaluate step, fields are compared side by side; where the variants reference
different steps of the same kind (`model = "@model_clean"` vs `"@model_raw"`), the diff continues into
those steps' fields (`model.data`, `model.data.input.rules[1].max`, ...), so a sweep's one changed value
or an ablation's changed input is found however deep it sits. Steps of different kinds are named with
their kind and not opened: their every field would differ. Execution-only fields are left out, as in the
hash: they do not change results.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from lmspec.compiler.plan import Plan
from lmspec.schemas import is_execution_only
from lmspec.schemas.base import is_ref, ref_name

FieldDiff = tuple[str, list[str]]
"""A field path (relative to the evaluate steps) and each variant's value, as shown."""
ABSENT = "—"


def spec_diff(plan: Plan, steps: list[str]) -> list[FieldDiff]:
    """The fields that differ between the named steps (and the steps they reference), in field order."""
    return _diff(plan, [plan.step(name).config for name in steps], "")


def _diff(plan: Plan, values: list[Any], path: str) -> list[FieldDiff]:
    if all(v == values[0] for v in values):
        return []
    if all(is_ref(v) for v in values):
        configs = [plan.step(ref_name(v)).config for v in values]
        kinds = {type(c) for c in configs}
        shown = [v if len(kinds) == 1 else f"{v} ({plan.step(ref_name(v)).kind})" for v in values]
        return [(path, shown), *(_diff(plan, configs, path) if len(kinds) == 1 else [])]
    if all(isinstance(v, BaseModel) for v in values) and len({type(v) for v in values}) == 1:
        fields = type(values[0]).model_fields
        names = [n for n, info in fields.items() if not is_execution_only(info.json_schema_extra)]
        return [d for n in names for d in _diff(plan, [getattr(v, n) for v in values], _join(path, n))]
    if all(isinstance(v, dict) for v in values):
        keys = list(dict.fromkeys(k for v in values for k in v))
        return [d for k in keys for d in _diff(plan, [v.get(k, ABSENT) for v in values], _join(path, str(k)))]
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        return [d for i in range(len(values[0])) for d in _diff(plan, [v[i] for v in values], f"{path}[{i}]")]
    return [(path, [_show(v) for v in values])]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: Any) -> str:
    """Strings as written, anything else (numbers, lists, tables) as JSON."""
    return value if isinstance(value, str) else json.dumps(to_jsonable_python(value))
