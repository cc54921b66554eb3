"""Mutated specs produce the project's SpecError or a plan, never any other exception."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmspec.compiler import check, compile_spec
from lmspec.errors import SpecError
from tests.conftest import REPO

SEEDS = [
    (REPO / "examples/quickstart.toml").read_text(encoding="utf-8"),
    (REPO / "tests/golden/sweep-grid.toml").read_text(encoding="utf-8"),
]
SEED_DATA = [tomllib.loads(text) for text in SEEDS]

scalars = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["@docs", "@tokens", "@model", "@nope", "${vars.seq_len}", "${vars.x}", "${", "$${", "@", ""]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def mutated_data(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(draw(st.sampled_from(SEED_DATA)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
    return data


def _outcome(path: Path) -> None:
    """Compiling either works or raises SpecError with located diagnostics; anything else fails the test."""
    diagnostics = []
    try:
        if check(path) is not None:  # None: a valid fragment, which has no plan of its own
            compile_spec(path, "/runs")
    except SpecError as exc:
        diagnostics = exc.diagnostics
        assert diagnostics, "a SpecError must carry at least one diagnostic"
    assert all(d.line >= 1 and d.col >= 1 for d in diagnostics)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated_data())
def test_structural_mutations_give_spec_errors_only(tmp_path: Path, data: dict[str, Any]) -> None:
    path = tmp_path / "mutated.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _outcome(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), edits=st.lists(st.tuples(st.integers(0, 10_000), st.text(max_size=4)), max_size=4))
def test_text_mutations_give_spec_errors_only(tmp_path: Path, seed: str, edits: list[tuple[int, str]]) -> None:
    text = seed
    for position, insert in edits:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at + 1 :]
    path = tmp_path / "mutated.toml"
    path.write_text(text, encoding="utf-8")
    _outcome(path)
