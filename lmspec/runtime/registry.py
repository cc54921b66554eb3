"""Step schema -> executor. The compiler never imports this; the runtime looks executors up by schema class.

A kind's schema class names its executor module when it is registered (`@step_kind(executor=...)` in
`lmspec/schemas/kinds.py`); that module is imported on first use, so running a spec imports only the
engines its steps need, and the module registers its function with `@executes(TheSchema)`. A module
that cannot be imported because an engine is missing means "no executor installed" for that kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lmspec.runtime.context import StepContext, StepResult
from lmspec.schemas.base import StepBase
from lmspec.schemas.kinds import load_plugins

type Executor[S: StepBase] = Callable[[StepContext[S]], StepResult]

_EXECUTORS: dict[type[StepBase], Executor[Any]] = {}


def executes[S: StepBase](schema: type[S]) -> Callable[[Executor[S]], Executor[S]]:
    """Decorator: make the function the executor of `schema`'s kind (a later registration replaces an earlier)."""

    def register(fn: Executor[S]) -> Executor[S]:
        _EXECUTORS[schema] = fn
        return fn

    return register


def executor_for(schema: type[StepBase]) -> Executor[Any] | None:
    """The executor of `schema`, importing its module on first use; None when it is not installed."""
    load_plugins()
    if schema not in _EXECUTORS:
        try:
            importlib.import_module(schema.executor)
        except ModuleNotFoundError as exc:
            if exc.name != schema.executor and (exc.name or "").startswith("lmspec."):
                raise  # a broken import inside lmspec is a bug to show, not an engine to install
            return None  # the executor module or an engine it imports is not installed
    return _EXECUTORS.get(schema)


def registered_executors() -> dict[type[StepBase], Executor[Any]]:
    """Every executor imported so far, by schema (for the schema <-> executor consistency test)."""
    return dict(_EXECUTORS)
