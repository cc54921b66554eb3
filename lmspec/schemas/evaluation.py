"""Evaluation of a trained model: bits-per-byte on held-out data and lm-eval tasks."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from lmspec.schemas.base import (
    ModelRef,
    OutputKind,
    Problems,
    RawInput,
    SpecModel,
    StepBase,
    TokensRef,
    execution_only,
)
from lmspec.schemas.kinds import step_kind

LOCAL_TASKS = ("lmspec_cloze",)
"""Offline tasks lmspec ships, built at run time from the held-out split of the first `perplexity` step:
`lmspec_cloze` picks each held-out document's true continuation among ones cut from other documents."""


class LmEvalConfig(SpecModel):
    """Tasks run by EleutherAI's lm-evaluation-harness against the trained checkpoint."""

    tasks: list[str] = Field(min_length=1)
    """Task names: lmspec's offline `lmspec_cloze`, lm-eval's bundled ones (they download from the Hugging Face
    Hub), or your own under `include_path`."""
    num_fewshot: int = Field(default=0, ge=0, le=64)
    """Few-shot examples per prompt."""
    limit: int | None = Field(default=None, ge=1)
    """Evaluate at most this many examples per task; None runs them all."""
    include_path: Annotated[str, RawInput()] | None = None
    """A directory of local task YAMLs (relative to the spec file), for offline or custom tasks."""
    batch_size: int = execution_only(default=8, ge=1)
    """Requests per forward pass; execution-only."""


@step_kind(executor="lmspec.runtime.evaluation.evaluate")
class Evaluate(StepBase):
    """Score a trained model: bits-per-byte on tokenized validation splits and lm-eval tasks."""

    kind: Literal["evaluate"]
    output: ClassVar[OutputKind] = "metrics"

    model: ModelRef
    """The train step to evaluate."""
    perplexity: list[TokensRef] = Field(default_factory=list)
    """Tokenize steps whose validation split is scored (loss and bits-per-byte)."""
    lm_eval: LmEvalConfig | None = None
    """lm-eval tasks; None skips lm-eval."""

    def cross_field_errors(self) -> Problems:
        if not self.perplexity and self.lm_eval is None:
            return [(("perplexity",), "an evaluate step needs `perplexity` data, `lm_eval` tasks, or both")]
        if self.lm_eval and not self.perplexity:
            return [
                (
                    ("lm_eval", "tasks", i),
                    f"`{task}` is built from held-out documents: name a tokenize step in `perplexity`",
                )
                for i, task in enumerate(self.lm_eval.tasks)
                if task in LOCAL_TASKS
            ]
        return []
