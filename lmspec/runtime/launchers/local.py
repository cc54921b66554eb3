"""`launcher = "local"` (the default): the executor runs inside the `lmspec run` process (a Luigi worker)."""

from __future__ import annotations

from typing import Any

from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import Executor


def run_here(context: StepContext[Any], executor: Executor[Any]) -> StepResult:
    return executor(context) or StepResult()
