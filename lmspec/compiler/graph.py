"""Depth-first walk of the step graph: topological order and cycles, without recursion limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

Info = TypeVar("Info")


def walk[Info](
    nodes: Iterable[str], edges: Callable[[str], Iterable[tuple[str, Info]]]
) -> tuple[list[str], list[tuple[list[str], Info]]]:
    """Inputs-first order of `nodes` (ties in the given order) and every cycle found with the edge closing it.

    `edges(node)` yields (upstream node, info); targets outside `nodes` must be left out by the caller.
    Iterative, so a 10,000-step chain needs no recursion limit.
    """
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    order: list[str] = []
    cycles: list[tuple[list[str], Info]] = []
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        path = [root]
        stack = [iter(edges(root))]
        while stack:
            for target, info in stack[-1]:
                seen = state.get(target)
                if seen == 1:
                    cycles.append(([*path[path.index(target) :], target], info))
                elif seen is None:
                    state[target] = 1
                    path.append(target)
                    stack.append(iter(edges(target)))
                    break
            else:
                done = path.pop()
                stack.pop()
                state[done] = 2
                order.append(done)
    return order, cycles
