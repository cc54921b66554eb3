"""The JSON Schemas editors use to complete and check spec files (taplo / Even Better TOML, YAML LS).

Two files, because a JSON Schema cannot tell a complete spec from one that `extends` a base:

- `experiment.schema.json` (strict), for complete specs: required fields are required, and a step is
  exactly one kind (a tagged union);
- `experiment.partial.schema.json` (relaxed), for specs that `extends` a base and for fragments: nothing
  is required, so a step table may override a few fields of a base step without repeating its `kind`.

Both accept a `${...}` substitution wherever a value may be written (lmspec replaces it before
validating), and both still reject what a schema can know is wrong: unknown keys, unknown kinds, and
wrong types or bounds where no substitution is involved. References, cycles and cross-field rules are
`lmspec validate`'s alone.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from lmspec.schemas.experiment import experiment_model

SCHEMA_FILES = {"strict": "experiment.schema.json", "partial": "experiment.partial.schema.json"}
"""Schema variant -> its file name under `schemas/`; a spec's first line names one (`#:schema ...`)."""
BASE_ID = "https://lmspec.dev/schemas/"
SUBSTITUTION = "Substitution"
SUBSTITUTION_SCHEMA = {
    "description": "A `${vars.NAME}` substitution, replaced by lmspec before validation.",
    "pattern": r"\$\{[^}]*\}",
    "type": "string",
}
HOVER_KEYS = ("title", "description", "default")
"""Kept on the outer schema of a wrapped value, so editors still show the field's docs."""


def schema_text(variant: str = "strict") -> str:
    """Deterministic text of one schema variant, so a stale committed copy is a plain diff; plugins included."""
    schema = copy.deepcopy(experiment_model().model_json_schema())
    defs = schema.setdefault("$defs", {})
    for name in list(defs):
        defs[name] = _model(defs[name], variant)
    schema = _model(schema, variant, definition=False)
    defs[SUBSTITUTION] = SUBSTITUTION_SCHEMA
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE_ID + SCHEMA_FILES[variant],
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _model(node: dict[str, Any], variant: str, definition: bool = True) -> dict[str, Any]:
    """A model's schema with every property value open to substitution (and, relaxed, nothing required)."""
    if "properties" not in node:
        return node
    out = dict(node)
    if variant == "partial":
        out.pop("required", None)
    out["properties"] = {
        name: value if name == "kind" else _value(value, variant) for name, value in node["properties"].items()
    }
    return _substitutable(out) if definition else out


def _value(node: dict[str, Any], variant: str) -> dict[str, Any]:
    """One value's schema, accepting a `${...}` substitution in its place.

    Tables and lists accept it through their `type` (`properties`, `items`, `required` apply to tables and
    lists only, `pattern` to strings only), so a mistake deep inside a table is still reported at its own
    line; an `anyOf` wrapper there would report only "not valid under any of the schemas" on the table.
    """
    out = _open(node, variant)
    if "$ref" in out or "allOf" in out:  # a model (its definition accepts substitutions) or a tagged union
        return _substitutable(out) if "allOf" in out else out
    if "anyOf" in out:
        return {**out, "anyOf": [*out["anyOf"], {"$ref": f"#/$defs/{SUBSTITUTION}"}]}
    if out.get("type") in ("object", "array") or ("type" in out and not {"enum", "const", "pattern"} & set(out)):
        return _substitutable(out)
    hover = {k: out.pop(k) for k in HOVER_KEYS if k in out}
    return {**hover, "anyOf": [out, {"$ref": f"#/$defs/{SUBSTITUTION}"}]}


def _substitutable(node: dict[str, Any]) -> dict[str, Any]:
    """Let a string holding a `${...}` substitution stand where this schema's type is expected."""
    kind = node.get("type", "object")
    kinds = kind if isinstance(kind, list) else [kind]
    if "string" in kinds:
        return node
    return {**node, "type": [*kinds, "string"], "pattern": SUBSTITUTION_SCHEMA["pattern"]}


def _open(node: dict[str, Any], variant: str) -> dict[str, Any]:
    """The values inside a list, table or union opened to substitution; tagged unions chosen by `kind`."""
    out = dict(node)
    if isinstance(out.get("items"), dict):
        out["items"] = _value(out["items"], variant)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _value(out["additionalProperties"], variant)
    if "patternProperties" in out:
        out["patternProperties"] = {p: _value(v, variant) for p, v in out["patternProperties"].items()}
    for key in ("anyOf", "oneOf"):
        if key in out:
            out[key] = [arm if "$ref" in arm else _open(arm, variant) for arm in out[key]]
    if "discriminator" in out:
        return _tagged_union(out, variant)
    return out


def _tagged_union(node: dict[str, Any], variant: str) -> dict[str, Any]:
    """A union chosen by `kind`, written with if/then so validators check the chosen kind's fields one by one.

    A plain `oneOf` makes editors report only "not valid under any of the schemas" on the whole table;
    if/then reports the misspelled field itself, on its line. `kind` is an enum, for completion. In the
    partial variant a table without `kind` (overriding a base's step) may match any kind's shape.
    """
    mapping: dict[str, str] = node["discriminator"]["mapping"]
    arms: list[dict[str, Any]] = [
        {"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]}, "then": {"$ref": ref}}
        for kind, ref in mapping.items()
    ]
    if variant == "partial":
        arms.append({"if": {"not": {"required": ["kind"]}}, "then": {"anyOf": [{"$ref": r} for r in mapping.values()]}})
    hover = {k: node[k] for k in HOVER_KEYS if k in node}
    union: dict[str, Any] = {
        **hover,
        "type": "object",
        "properties": {"kind": {"description": "What this is; one of the kinds below.", "enum": list(mapping)}},
        "allOf": arms,
    }
    if variant == "strict":
        union["required"] = ["kind"]
    return union
