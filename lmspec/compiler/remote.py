"""Asking a remote store something (does an object exist, what is its checksum) without hanging a plan.

Object stores retry for minutes when the machine is offline or has no credentials; `lmspec compile` should
neither wait that long nor fail, so each probe runs in a daemon thread for at most REMOTE_TIMEOUT_S and the
caller decides what an unanswered question means (a step status `unknown`, an input `unreachable`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REMOTE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Unanswered:
    """Why a probe got no answer: its error's first line, or the timeout."""

    reason: str


def probe[T](ask: Callable[[], T]) -> T | Unanswered:
    """`ask()`'s answer, or why there is none."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(ask())
        except Exception as exc:  # every store raises its own types
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(REMOTE_TIMEOUT_S)
    if result and not isinstance(result[0], Exception):
        return result[0]  # type: ignore[no-any-return]
    return Unanswered(
        str(result[0]).splitlines()[0] if result and str(result[0]) else f"no answer in {REMOTE_TIMEOUT_S:.0f} s"
    )
