"""lmspec's import graph, read from the source with `ast`: no cycles, and each layer imports only what is below it.

Every import counts: module level, inside functions, and under TYPE_CHECKING (a type-only import still
ties two modules together, and is how a cycle hides until someone moves it up). `from package import
name` depends on `package.name` when that is a module, else on the package itself; importing a module
also runs its packages' `__init__`, which is not counted, or every package would be a cycle.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "lmspec"

type Graph = dict[str, set[str]]


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, package: str, known: set[str]) -> set[str]:
    """The lmspec modules one import statement depends on."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:  # relative: `from . import x` inside package a.b is a.b.x
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, *([node.module] if node.module else [])])
    found = {f"{base}.{alias.name}" for alias in node.names} & known
    return found if len(found) == len(node.names) else {*found, base}


def import_graph(root: Path = PACKAGE) -> Graph:
    """Module -> the lmspec modules it imports, for every module under `root`."""
    files = {_module_name(path, root): path for path in root.rglob("*.py")}
    known = set(files)
    graph: Graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        statements = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
        graph[name] = {dep for node in statements for dep in _imported(node, package, known)} & known - {name}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle (a path that returns to its start) for each knot of mutually importing modules."""
    found: list[list[str]] = []
    settled: set[str] = set()
    for start in sorted(graph):
        if start in settled:
            continue
        path = _path_back(graph, start)
        if path:
            found.append(path)
            settled.update(path)
    return found


def _path_back(graph: Graph, start: str) -> list[str]:
    """The shortest import path from `start` back to itself, `[start, ..., start]`; empty when there is none."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        module = queue.popleft()
        for dep in sorted(graph.get(module, ())):
            if dep == start:
                path = [module]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if dep not in parent:
                parent[dep] = module
                queue.append(dep)
    return []


def test_lmspec_has_no_import_cycles() -> None:
    knots = cycles(import_graph())
    assert not knots, "import cycles:\n" + "\n".join("  " + " -> ".join(cycle) for cycle in knots)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        # Pure data in, pure data out: it may name output files (lowering to MaxText), never read their state.
        ("lmspec.compiler", ("lmspec.runtime", "lmspec.catalog", "lmspec.outputs.status", "lmspec.outputs.lifecycle")),
        ("lmspec.schemas", ("lmspec.compiler", "lmspec.runtime", "lmspec.catalog", "lmspec.outputs")),
        ("lmspec.outputs", ("lmspec.runtime", "lmspec.catalog")),  # readers the browser uses without the runtime
        ("lmspec.catalog", ("lmspec.runtime",)),
    ],
)
def test_a_layer_imports_nothing_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    graph = import_graph()
    wrong = sorted(
        f"{module} imports {dep}"
        for module, deps in graph.items()
        if module == layer or module.startswith(layer + ".")
        for dep in deps
        if dep.startswith(forbidden)
    )
    assert not wrong, "\n".join(wrong)


def test_the_cycle_finder_finds_cycles_and_only_cycles() -> None:
    graph: Graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_function_level_type_checking_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "lmspec"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 1\n")
    (package / "sub" / "__init__.py").write_text("from lmspec.sub import b\n")
    (package / "sub" / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from lmspec import VERSION\n"
        "if TYPE_CHECKING:\n"
        "    from lmspec.sub.b import B\n"
    )
    (package / "sub" / "b.py").write_text("def f():\n    from . import a\n")
    graph = import_graph(package)
    assert graph == {
        "lmspec": set(),
        "lmspec.sub": {"lmspec.sub.b"},
        "lmspec.sub.a": {"lmspec", "lmspec.sub.b"},
        "lmspec.sub.b": {"lmspec.sub.a"},
    }
    assert cycles(graph) == [["lmspec.sub.a", "lmspec.sub.b", "lmspec.sub.a"]]
