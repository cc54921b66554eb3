"""A third-party step kind in one module, as a team would ship it: its schema and its executor.

Registered in the tests through a real entry point (`lmspec.step_kinds` group, a `.dist-info` written
to a temporary folder on `sys.path`), never through lmspec's own code. `word_count` counts the words of
a documents step and writes them as metrics.
"""

from __future__ import annotations

import json
from typing import ClassVar, Literal

from pydantic import Field

from lmspec.outputs.documents import Documents
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.schemas import StepBase, step_kind
from lmspec.schemas.base import DocumentsRef, OutputKind


@step_kind(executor=__name__)
class WordCount(StepBase):
    """Count the words of a documents step (a plugin kind: schema and executor in one module)."""

    kind: Literal["word_count"]
    output: ClassVar[OutputKind] = "metrics"

    input: DocumentsRef
    """The documents whose words are counted."""
    min_length: int = Field(default=1, ge=1)
    """Only words at least this many characters long count."""


@executes(WordCount)
def count_words(ctx: StepContext[WordCount]) -> StepResult:
    documents = ctx.input(ctx.spec.input, Documents)
    words = sum(sum(len(word) >= ctx.spec.min_length for word in doc["text"].split()) for doc in documents.read())
    (ctx.output_dir / "words.json").write_text(json.dumps({"words": words}))
    return StepResult(counts={"words": words}, metrics={"words": words})
