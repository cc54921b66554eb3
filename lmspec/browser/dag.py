"""An experiment's step graph laid out for an SVG drawn by the server (no JavaScript, works offline).

Steps go in rows by depth, top to bottom (a step sits one row below its deepest input); within a row they
are ordered by the mean position of their inputs, which keeps most edges short and uncrossed for the DAGs
specs make (a few dozen steps; a pipeline is deeper than it is wide, so it fits a page without scrolling).
Edges are cubic curves from an input's bottom to a step's top.
"""

from __future__ import annotations

from dataclasses import dataclass

NODE_WIDTH = 220
NODE_HEIGHT = 44
COLUMN_GAP = 28
ROW_GAP = 26
MARGIN = 10


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    hash: str
    status: str
    x: int
    y: int


@dataclass(frozen=True)
class Edge:
    path: str
    """The SVG path data of the curve."""


@dataclass(frozen=True)
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


def layout(steps: list[tuple[str, str, str, str, list[str]]]) -> Layout:
    """Positions for (name, kind, hash, status, input names); rows keep the order steps are given in."""
    names = {name for name, *_ in steps}
    inputs_of = {name: [i for i in inputs if i in names] for name, _, _, _, inputs in steps}
    depth = _depths(inputs_of)
    rows: dict[int, list[str]] = {}
    column: dict[str, float] = {}
    for name, *_ in steps:
        rows.setdefault(depth[name], []).append(name)
    for level in sorted(rows):
        members = rows[level]
        members.sort(key=lambda n: sum(column[i] for i in inputs_of[n]) / len(inputs_of[n]) if inputs_of[n] else 0.0)
        for position, name in enumerate(members):
            column[name] = position
    x = {name: MARGIN + int(column[name]) * (NODE_WIDTH + COLUMN_GAP) for name in depth}
    y = {name: MARGIN + depth[name] * (NODE_HEIGHT + ROW_GAP) for name in depth}
    nodes = [Node(name, kind, digest, status, x[name], y[name]) for name, kind, digest, status, _ in steps]
    edges = [Edge(_curve(x[i], y[i] + NODE_HEIGHT, x[n], y[n])) for n, inputs in inputs_of.items() for i in inputs]
    width = MARGIN * 2 + max((len(m) for m in rows.values()), default=1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + (max(depth.values(), default=0) + 1) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return Layout(nodes, edges, width, height)


def _depths(inputs_of: dict[str, list[str]]) -> dict[str, int]:
    """Each step's depth (1 + its deepest input's), in any order of steps: passes until nothing changes,
    one pass and a check for steps given in topological order."""
    depth = dict.fromkeys(inputs_of, 0)
    for _ in range(len(depth)):
        changed = False
        for name, inputs in inputs_of.items():
            deeper = 1 + max((depth[i] for i in inputs), default=-1)
            changed = changed or deeper != depth[name]
            depth[name] = deeper
        if not changed:
            break
    return depth


def _curve(x1: int, y1: int, x2: int, y2: int) -> str:
    """From the bottom middle of one node to the top middle of another."""
    middle = NODE_WIDTH // 2
    bend = (y2 - y1) // 2
    return f"M{x1 + middle},{y1} C{x1 + middle},{y1 + bend} {x2 + middle},{y2 - bend} {x2 + middle},{y2}"
