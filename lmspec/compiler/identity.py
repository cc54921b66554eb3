"""Step identity: a content hash of the canonical semantic config plus the hashes of its inputs.

Canonical means: the validated model (defaults filled, numbers typed, so `1e-3`
and `0.001`, key order, and TOML vs YAML cannot differ), minus every field the
schema marks execution-only, with each `@reference` replaced by the referenced
step's hash (so an upstream change propagates and a rename does not).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from pydantic import BaseModel

from lmspec.schemas import StepBase, is_execution_only
from lmspec.schemas.base import SpecModel, is_hashed_only_when_set

IDENTITY_SCHEMA = 2
"""Bump when the canonical form itself changes: every hash changes with it, on purpose.
2: raw inputs enter by their content fingerprint (`data`), no longer by their path alone."""

HASH_LENGTH = 12
"""Hex characters kept: 48 bits, collision-free in practice within one step name."""


def fingerprint(step: StepBase, input_hashes: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    """The exact JSON-able object that is hashed; `lmspec explain` diffs these field by field.

    `data` is the content fingerprint of every raw input the step reads (`lmspec.compiler.inputs`), present
    only for steps that read some. A kind's `implementation` enters only once it is bumped past 1, so the
    hashes of every kind whose executor never changed its output stay what they were.
    """
    refs = {f"@{name}": f"@{digest}" for name, digest in input_hashes.items()}
    found: dict[str, Any] = {"identity_schema": IDENTITY_SCHEMA, "config": _canonical(step, refs)}
    if data:
        found["data"] = dict(sorted(data.items()))
    if step.implementation > 1:
        found["implementation"] = step.implementation
    return found


def step_hash(fingerprint_: dict[str, Any]) -> str:
    text = json.dumps(fingerprint_, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def _canonical(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, str):
        return refs.get(value, value)
    if isinstance(value, BaseModel):
        fields = {
            name: _canonical(getattr(value, name), refs)
            for name, default in _hashed_fields(type(value))
            if default is _ALWAYS or getattr(value, name) != default
        }
        extra = value.identity_extra() if isinstance(value, SpecModel) else {}
        return {**fields, **extra}
    if isinstance(value, dict):
        return {refs.get(k, k): _canonical(v, refs) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, refs) for v in value]
    if isinstance(value, float) and value == 0.0:
        return 0.0  # -0.0 and 0.0 are the same setting
    return value


_ALWAYS = object()
"""The default given for a field hashed whatever its value (most fields)."""


@functools.cache
def _hashed_fields(model: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    """(name, default) of each field of `model` that enters the hash, the default being `_ALWAYS` unless the
    field is hashed only when set (`added_later`). Read once per class: a 1,000-step plan canonicalises
    thousands of models."""
    return tuple(
        (name, info.get_default(call_default_factory=True) if is_hashed_only_when_set(extra) else _ALWAYS)
        for name, info in model.model_fields.items()
        if not is_execution_only(extra := info.json_schema_extra)
    )


def fingerprint_diff(before: Any, after: Any, path: str = "") -> list[str]:
    """Lines `field: old -> new` for every leaf that differs (added and removed fields included)."""
    if isinstance(before, dict) and isinstance(after, dict):
        lines = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                lines.append(f"{sub}: (absent) -> {after[key]!r}")
            elif key not in after:
                lines.append(f"{sub}: {before[key]!r} -> (absent)")
            else:
                lines.extend(fingerprint_diff(before[key], after[key], sub))
        return lines
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            line
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for line in fingerprint_diff(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]
