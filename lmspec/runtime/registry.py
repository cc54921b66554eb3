"""Step kind -> executor. The compiler never imports this; the runtime looks executors up by kind.

Built-in executors are imported lazily from `BUILTIN_EXECUTORS` (module paths), so running a
spec imports only the engines its steps need. Extra modules named in `$LMSPEC_PLUGINS`
(comma-separated) are imported first and may register executors of their own, for a team's
custom step implementations or a test suite's.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmspec.runtime.context import StepContext, StepResult

Executor = Callable[["StepContext"], "StepResult"]

BUILTIN_EXECUTORS: dict[str, str] = {
    "ingest": "lmspec.runtime.data.ingest",
    "extract": "lmspec.runtime.data.extract",
    "filter": "lmspec.runtime.data.filter",
    "dedup": "lmspec.runtime.data.dedup",
    "train_classifier": "lmspec.runtime.data.train_classifier",
    "train_tokenizer": "lmspec.runtime.training.tokenizer",
    "tokenize": "lmspec.runtime.training.tokenize",
    "train": "lmspec.runtime.training.train",
    "evaluate": "lmspec.runtime.evaluation.evaluate",
}
"""kind -> module that registers it on import; the other kinds arrive with their engines."""

_REGISTRY: dict[str, Executor] = {}
_plugins_loaded = False


def register_executor(kind: str) -> Callable[[Executor], Executor]:
    """Decorator: make `fn` the executor of `kind` (a later registration replaces an earlier one)."""

    def decorate(fn: Executor) -> Executor:
        _REGISTRY[kind] = fn
        return fn

    return decorate


def executor_for(kind: str) -> Executor | None:
    """The executor of `kind`, importing its module on first use; None when there is none."""
    _load_plugins()
    if kind not in _REGISTRY and kind in BUILTIN_EXECUTORS:
        importlib.import_module(BUILTIN_EXECUTORS[kind])
    return _REGISTRY.get(kind)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in filter(None, (m.strip() for m in os.environ.get("LMSPEC_PLUGINS", "").split(","))):
        importlib.import_module(module)
