"""The base of every typed output: a completed step's output directory and the kind of thing it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from lmspec.schemas.base import OutputKind


class Output:
    """A step's output directory read as one output type (`Documents`, `TokenizedData`, `ModelCheckpoint`, ...).

    `kind` is the schema's output kind: `StepContext.input` refuses to read a `tokens` output as
    documents, so a wrong reference that slipped past validation fails loudly instead of reading garbage.
    """

    kind: ClassVar[OutputKind]

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


LEGACY_TIMING = "seconds"
"""How long the step took, which outputs once wrote into their own files; they no longer do (the step's
record has it), so that the same input gives the same bytes and early cutoff can fire."""


def without_timing(data: dict[str, Any]) -> dict[str, Any]:
    """An output file's JSON as written today: the legacy timing of an older output left out."""
    return {key: value for key, value in data.items() if key != LEGACY_TIMING}
