"""The base of every typed output: a completed step's output directory and the kind of thing it holds."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

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
