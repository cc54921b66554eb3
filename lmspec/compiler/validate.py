"""Validation of an expanded spec: the schema, then references, their kinds, and cycles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from lmspec.compiler.expand import Expanded, raw_references
from lmspec.compiler.graph import walk
from lmspec.compiler.pydantic_errors import diagnostics_from_errors
from lmspec.compiler.source_map import DataPath, dotted
from lmspec.errors import Diagnostic, SpecError, did_you_mean
from lmspec.schemas import OUTPUT_KIND_PHRASES, ExperimentSpec, Step, StepBase

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
    try:
        spec = ExperimentSpec.model_validate(expanded.data)
        steps = dict(spec.steps)
    except ValidationError as exc:
        report.extend(diagnostics_from_errors(_kept(exc, expanded), expanded.data, ExperimentSpec, expanded.source_map))
        steps = _valid_steps(expanded.data.get("steps"))

    raw_steps = expanded.data.get("steps")
    names = list(raw_steps) if isinstance(raw_steps, dict) else []
    for name, step in steps.items():
        for path, message in step.cross_field_errors():
            report.at(("steps", name, *path), message)
    edges = _check_references(steps, raw_steps if isinstance(raw_steps, dict) else {}, names, report)
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
            raise SpecError(self.items)


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
        _STEP_ADAPTER = TypeAdapter(Step)
    out = {}
    for name, data in raw.items():
        try:
            out[name] = _STEP_ADAPTER.validate_python(data)
        except ValidationError:
            continue
    return out


def _check_references(
    steps: dict[str, StepBase], raw_steps: dict[str, Any], names: list[str], report: _Report
) -> dict[str, list[tuple[str, DataPath]]]:
    """Every reference must name a step whose output fits the field. Returns edges: step -> [(input, field)]."""
    edges: dict[str, list[tuple[str, DataPath]]] = {}
    for name in raw_steps:
        step = steps.get(name)
        if step is None:  # invalid step: still report references to nowhere
            for target in sorted(raw_references(raw_steps[name]) - set(names)):
                report.at(("steps", name), f"no step named `{target}`{did_you_mean(target, names)}")
            continue
        for field, target, accepted in step.references():
            path = ("steps", name, *field)
            at_key = isinstance(field[-1], str) and field[-1].startswith("@")  # a mixture weight's key
            if target not in names:
                if not report.expanded.is_fragment:
                    report.at(path, f"no step named `{target}`{did_you_mean(target, names)}", at_key)
                continue
            edges.setdefault(name, []).append((target, path))
            upstream = steps.get(target)
            if upstream is not None and upstream.output not in accepted:
                wanted = " or ".join(OUTPUT_KIND_PHRASES[k] for k in accepted)
                kind = getattr(upstream, "kind", "?")
                article = "an" if kind[0] in "aeiou" else "a"
                field_name = dotted(tuple(p for p in field if not (isinstance(p, str) and p.startswith("@"))))
                report.at(
                    path,
                    f"`@{target}` is {article} {kind} step, which produces {upstream.output}; "
                    f"`{field_name}` needs {wanted}",
                    at_key,
                )
    return edges


def _check_cycles(names: list[str], edges: dict[str, list[tuple[str, DataPath]]], report: _Report) -> list[str]:
    """Topological order (inputs first, ties in file order); each cycle reported at the reference closing it."""
    order, cycles = walk(names, lambda name: edges.get(name, []))
    for cycle, path in cycles:
        report.at(path, "cycle: " + " -> ".join(cycle))
    return order
