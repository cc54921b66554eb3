"""Validation of an expanded spec: the schema, then references, their kinds, and cycles."""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from lmspec.compiler.expand import Expanded, raw_references
from lmspec.compiler.graph import walk
from lmspec.compiler.pydantic_errors import diagnostics_from_errors
from lmspec.compiler.source_map import DataPath, dotted
from lmspec.errors import Diagnostic, SpecError, did_you_mean
from lmspec.schemas import ExperimentSpec, SpecModel, StepBase, experiment_model, step_kinds, step_union
from lmspec.schemas.base import OUTPUT_NOUNS
from lmspec.schemas.kinds import kind_name, producers
from lmspec.schemas.references import references, references_in_paths

_STEP_ADAPTER: TypeAdapter[Any] | None = None


@dataclass(frozen=True)
class ValidSpec:
    """A spec that passed every check: the model, its steps in topological order, and their inputs."""

    spec: ExperimentSpec
    order: tuple[str, ...]
    inputs: dict[str, tuple[str, ...]]


def validate(expanded: Expanded) -> ValidSpec | None:
    """Check everything; raise SpecError with every problem. Fragments return None when they pass."""
    report = _Report(expanded)
    report.extend(expanded.diagnostics)
    spec: ExperimentSpec | None = None
    steps: dict[str, StepBase] = {}
    model = experiment_model()
    try:
        spec = model.model_validate(expanded.data)
        steps = dict(spec.steps)
    except ValidationError as exc:
        report.extend(diagnostics_from_errors(_kept(exc, expanded), expanded.data, model, expanded.source_map))
        steps = _valid_steps(expanded.data.get("steps"))

    raw_steps = expanded.data.get("steps")
    names = list(raw_steps) if isinstance(raw_steps, dict) else []
    for name, step in steps.items():
        for path, message in cross_field_errors(step):
            report.at(("steps", name, *path), message)
    edges = _check_references(raw_steps if isinstance(raw_steps, dict) else {}, report)
    order = _check_cycles(names, edges, report)
    report.raise_if_any()
    if spec is None:
        return None
    return ValidSpec(spec, tuple(order), {n: tuple(dict.fromkeys(t for t, _ in edges.get(n, []))) for n in order})


class _Report:
    def __init__(self, expanded: Expanded) -> None:
        self.expanded = expanded
        self.items: list[Diagnostic] = []

    def extend(self, items: list[Diagnostic]) -> None:
        """Add problems, except a second one at a place already reported (an unresolved ${vars.x})."""
        taken = {(d.file, d.line, d.col) for d in self.items}
        self.items.extend(d for d in items if (d.file, d.line, d.col) not in taken)

    def at(self, path: DataPath, message: str, at_key: bool = False) -> None:
        source_map = self.expanded.source_map
        where = source_map.key(path) if at_key else source_map.value(path)
        self.items.append(Diagnostic(where.file, where.line, where.col, dotted(source_map.source_path(path)), message))

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError([self.expanded.pointed(d) for d in self.items])


def _kept(exc: ValidationError, expanded: Expanded) -> list[Any]:
    """A fragment (no [experiment]) may leave required fields to the spec that extends it."""
    errors = exc.errors(include_url=False)
    if expanded.is_fragment:
        errors = [e for e in errors if e["type"] not in ("missing", "union_tag_not_found")]
    return errors


def _valid_steps(raw: Any) -> dict[str, StepBase]:
    """The steps that pass the schema on their own, so references are checked despite other errors."""
    global _STEP_ADAPTER
    if not isinstance(raw, dict):
        return {}
    if _STEP_ADAPTER is None:
        _STEP_ADAPTER = TypeAdapter(step_union())
    out = {}
    for name, data in raw.items():
        try:
            out[name] = _STEP_ADAPTER.validate_python(data)
        except ValidationError:
            continue
    return out


def _check_references(raw_steps: dict[str, Any], report: _Report) -> dict[str, list[tuple[str, DataPath]]]:
    """Every reference must name a step whose output fits the field; checked on the raw step tables, so a
    step with other errors still has its references checked. Returns edges: step -> [(input, field)]."""
    kinds = step_kinds()
    names = list(raw_steps)
    edges: dict[str, list[tuple[str, DataPath]]] = {}
    for name, raw in raw_steps.items():
        schema = _schema_of(raw, kinds)
        if schema is None:  # unknown kind (reported by the schema): still report references to nowhere
            for target in sorted(raw_references(raw) - set(names)):
                report.at(("steps", name), f"no step named `{target}`{did_you_mean(target, names)}")
            continue
        for field in references_in_paths(schema, raw):
            named = dotted(tuple(p for p in field if isinstance(p, str)))
            report.at(
                ("steps", name, *field),
                f"`{named}` takes files, globs or URLs, not a step reference; to use another step's output, "
                "name it in a field that takes a step (e.g. a filter's `input`)",
            )
        for ref in references(schema, raw):
            path = ("steps", name, *ref.path)
            if ref.target not in names:
                if not report.expanded.is_fragment:
                    report.at(path, f"no step named `{ref.target}`{did_you_mean(ref.target, names)}", ref.at_key)
                continue
            edges.setdefault(name, []).append((ref.target, path))
            upstream_schema = _schema_of(raw_steps[ref.target], kinds)
            if upstream_schema is not None and upstream_schema.output not in ref.accepts:
                report.at(path, _wrong_output(ref.target, upstream_schema, ref.path, ref.accepts), ref.at_key)
    return edges


def cross_field_errors(model: SpecModel, path: DataPath = ()) -> list[tuple[DataPath, str]]:
    """The cross-field rules of a model and of every model inside it (a step's runner, its rules), each
    problem once, at its field."""
    found = [((*path, *where), message) for where, message in model.cross_field_errors()]
    for name in _model_holding_fields(type(model)):
        value = getattr(model, name)
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        if isinstance(value, SpecModel):
            found.extend(cross_field_errors(value, (*path, name)))
        for key, item in items:
            if isinstance(item, SpecModel):
                found.extend(cross_field_errors(item, (*path, name, key)))
    return list(dict.fromkeys(found))


@functools.cache
def _model_holding_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` whose type can hold a model (a runner, rules): the only ones a cross-field rule can
    be inside. Read once per class; a 1,000-step plan checks thousands of models."""
    return tuple(name for name, info in model.model_fields.items() if _may_hold_model(cast(Any, info.annotation)))


@functools.cache
def _may_hold_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_may_hold_model(arg) for arg in typing.get_args(annotation) if not isinstance(arg, str | int | float))


def _schema_of(raw: Any, kinds: dict[str, type[StepBase]]) -> type[StepBase] | None:
    """The schema class an unvalidated step table names with its `kind`, if that is a known kind."""
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return kinds.get(kind) if isinstance(kind, str) else None


def _wrong_output(target: str, upstream: type[StepBase], field: DataPath, accepts: tuple[str, ...]) -> str:
    """ "`@model` is a train step, which produces model; `tokenizer` needs a tokenizer (a train_tokenizer step)"."""
    wanted = " or ".join(output_phrase(kind) for kind in accepts)
    kind = kind_name(upstream)
    article = "an" if kind[0] in "aeiou" else "a"
    field_name = dotted(tuple(p for p in field if not (isinstance(p, str) and p.startswith("@"))))
    return f"`@{target}` is {article} {kind} step, which produces {upstream.output}; `{field_name}` needs {wanted}"


def output_phrase(output: str) -> str:
    """ "documents (an ingest, extract, filter or dedup step)": the noun, then the kinds that produce it."""
    kinds = producers(output)  # type: ignore[arg-type]
    if not kinds:
        return OUTPUT_NOUNS.get(output, output)
    listed = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
    article = "an" if listed[0] in "aeiou" else "a"
    return f"{OUTPUT_NOUNS.get(output, output)} ({article} {listed} step)"


def _check_cycles(names: list[str], edges: dict[str, list[tuple[str, DataPath]]], report: _Report) -> list[str]:
    """Topological order (inputs first, ties in file order); each cycle reported at the reference closing it."""
    order, cycles = walk(names, lambda name: edges.get(name, []))
    for cycle, path in cycles:
        report.at(path, "cycle: " + " -> ".join(cycle))
    return order
