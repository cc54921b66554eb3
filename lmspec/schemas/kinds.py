"""The one registration of step kinds: every kind's schema class, built-in or from a plugin.

A kind is registered by decorating its schema class with `@step_kind(executor="module.path")`; the
step union (and so validation and the JSON Schema), the phrases that list kinds in messages, and the
runtime's executor lookup all derive from this table. Third-party kinds arrive through the
`lmspec.step_kinds` entry-point group (each entry names a module or a class; loading it registers
its kinds) or through modules named in `$LMSPEC_PLUGINS` (comma-separated).
"""

from __future__ import annotations

import importlib
import os
import typing
from collections.abc import Callable
from importlib import metadata

from lmspec.schemas.base import OutputKind, StepBase

ENTRY_POINT_GROUP = "lmspec.step_kinds"
BUILTIN_SCHEMA_MODULES = (
    "lmspec.schemas.data",
    "lmspec.schemas.training",
    "lmspec.schemas.post_training",
    "lmspec.schemas.evaluation",
)

_KINDS: dict[str, type[StepBase]] = {}
_plugins_loaded = False


def step_kind[S: type[StepBase]](*, executor: str) -> Callable[[S], S]:
    """Register a schema class as a step kind whose executor lives in the module `executor`."""

    def register(cls: S) -> S:
        kind = kind_name(cls)
        known = _KINDS.get(kind)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(f"step kind `{kind}` is registered twice: {known.__module__} and {cls.__module__}")
        cls.executor = executor
        _KINDS[kind] = cls
        return cls

    return register


def kind_name(cls: type[StepBase]) -> str:
    """The `kind` a schema class accepts: the single value of its `kind: Literal[...]` field."""
    field = cls.model_fields.get("kind")
    values = typing.get_args(field.annotation) if field is not None else ()
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f'{cls.__qualname__} must declare `kind: Literal["<name>"]` to be a step kind')
    return values[0]


def step_kinds() -> dict[str, type[StepBase]]:
    """Kind name -> schema class: the built-ins in the order of BUILTIN_SCHEMA_MODULES, then plugins.

    A stable order whatever imported what first: it is the order of the JSON Schema and of messages.
    """
    load_plugins()
    arrival = list(_KINDS)

    def position(kind: str) -> tuple[int, int]:
        module = _KINDS[kind].__module__
        group = BUILTIN_SCHEMA_MODULES.index(module) if module in BUILTIN_SCHEMA_MODULES else len(arrival)
        return group, arrival.index(kind)

    return {kind: _KINDS[kind] for kind in sorted(_KINDS, key=position)}


def producers(output: OutputKind) -> list[str]:
    """The kinds whose steps produce `output`, in registration order."""
    return [name for name, cls in step_kinds().items() if cls.output == output]


def load_plugins() -> None:
    """Import every plugin once per process: entry points first, then `$LMSPEC_PLUGINS` (which may override)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    _load_builtins()
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        entry.load()
    for module in filter(None, (m.strip() for m in os.environ.get("LMSPEC_PLUGINS", "").split(","))):
        importlib.import_module(module)


def _load_builtins() -> None:
    """The built-in schema modules register their kinds on import."""
    for module in BUILTIN_SCHEMA_MODULES:
        importlib.import_module(module)
