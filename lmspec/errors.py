"""One error base for the project; the CLI maps each class to an exit code.

A bad spec never reaches the user as a traceback: everything the compiler finds
wrong with a spec is a `Diagnostic` (file, line, column, field path, message),
and all of a file's diagnostics travel together in one `SpecError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in a spec, located at the key or value the user wrote (line 0: a command-line override,
    whose flag stands in `file`)."""

    file: str
    line: int
    col: int
    field: str
    message: str

    def format(self, style: str = "text") -> str:
        """The contract's line formats: `PATH:LINE:COL: error: FIELD: msg` or GitHub's annotation."""
        field = f"{self.field}: " if self.field else ""
        if style == "github":
            # GitHub's workflow-command syntax needs %, CR and LF escaped in the message.
            message = (field + self.message).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            if not self.line:
                return f"::error::{self.file}: {message}"
            return f"::error file={self.file},line={self.line},col={self.col}::{message}"
        if not self.line:  # not in a file: a command-line override, named by its flag (which holds the field)
            named = self.field and self.file.split(" ", 1)[-1].split("=", 1)[0].startswith(self.field)
            return f"{self.file}: error: {'' if named else field}{self.message}"
        return f"{self.file}:{self.line}:{self.col}: error: {field}{self.message}"


class LmspecError(Exception):
    """Base of every error lmspec reports to a user without a traceback."""

    exit_code = 1


class SpecError(LmspecError):
    """A spec (or a file it extends) is invalid; carries every problem found, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics))
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class UsageError(LmspecError):
    """The command line asks for something impossible (missing file, wrong command for a fragment)."""

    exit_code = 2


def did_you_mean(name: str, candidates: Iterable[str], listing: bool = False) -> str:
    """`; did you mean `x`?` for the closest candidate; with `listing`, all candidates when none is close."""
    options = list(candidates)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    if listing and options:
        return f"; valid fields: {', '.join(sorted(options))}"
    return ""
