"""A step kind with a bug in its validation, as a broken plugin would have: `lmspec validate DIR` must report
it for its own file and still check every other file."""

from __future__ import annotations

from typing import ClassVar, Literal

from lmspec.schemas import StepBase, step_kind
from lmspec.schemas.base import OutputKind, Problems


@step_kind(executor=__name__)
class Crashing(StepBase):
    """Raises while its cross-field rules are checked."""

    kind: Literal["crashing"]
    output: ClassVar[OutputKind] = "metrics"

    def cross_field_errors(self) -> Problems:
        raise RuntimeError("a bug in a plugin's validation")
