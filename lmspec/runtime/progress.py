"""What a run shows while it works: a live rich table on a terminal, one line per event otherwise."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

_STYLES = {
    "pending": "dim",
    "running": "cyan",
    "done": "green",
    "reused": "green",
    "cached": "green",
    "failed": "red",
    "skipped": "yellow",
}


class Progress:
    """Step states for the whole plan; `live` picks the rich view, else plain lines on stdout."""

    def __init__(self, steps: list[tuple[str, str]], initial: dict[str, str], live: bool) -> None:
        self.kinds = dict(steps)
        self.state = dict(initial)
        self.started: dict[str, float] = {}
        self.elapsed: dict[str, float] = {}
        self._live: Any = None
        if live:
            from rich.live import Live

            self._live = Live(self._table(), refresh_per_second=4, transient=False)
            self._live.start()

    def update(self, name: str, state: str, detail: str = "") -> None:
        now = time.time()
        if state == "running":
            self.started[name] = now
        elif name in self.started:
            self.elapsed[name] = now - self.started[name]
        self.state[name] = state
        if self._live is not None:
            self._live.update(self._table())
        else:
            took = f" ({self.elapsed[name]:.1f} s)" if name in self.elapsed and state != "running" else ""
            extra = f": {detail}" if detail else ""
            try:
                print(f"{time.strftime('%H:%M:%S')} {state:<8} {name}{took}{extra}", flush=True)
            except BrokenPipeError:  # the reader of stdout left (`lmspec run ... | head`): the run goes on
                discard_stdout()

    def close(self) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("step", "kind", "state", "elapsed"):
            table.add_column(column)
        now = time.time()
        for name, kind in self.kinds.items():
            state = self.state.get(name, "pending")
            seconds = self.elapsed.get(name) or (now - self.started[name] if state == "running" else None)
            table.add_row(
                name, kind, f"[{_STYLES.get(state, '')}]{state}[/]", f"{seconds:.1f} s" if seconds is not None else ""
            )
        return table


def discard_stdout() -> None:
    """Send the rest of stdout, and what is still buffered for it, to /dev/null: its reader has closed the
    pipe, which is not an error (`| head`), and Python would otherwise report the broken pipe again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def wants_live(quiet: bool) -> bool:
    return not quiet and sys.stdout.isatty()
