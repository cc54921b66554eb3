"""Evaluation of a trained model: bits-per-byte on held-out data and lm-eval tasks."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lmspec.schemas.base import OutputKind, Problems, Refs, SpecModel, StepBase, StepRef, execution_only, ref_name


class LmEvalConfig(SpecModel):
    """Tasks run by EleutherAI's lm-evaluation-harness against the trained checkpoint."""

    tasks: list[str] = Field(min_length=1)
    """Task names: bundled ones (need the Hub) or local ones found under `include_path`."""
    num_fewshot: int = Field(default=0, ge=0, le=64)
    """Few-shot examples per prompt."""
    limit: int | None = Field(default=None, ge=1)
    """Evaluate at most this many examples per task; None runs them all."""
    include_path: str | None = None
    """A directory of local task YAMLs (relative to the spec file), for offline or custom tasks."""
    batch_size: int = execution_only(default=8, ge=1)
    """Requests per forward pass; execution-only."""


class Evaluate(StepBase):
    """Score a trained model: bits-per-byte on tokenized validation splits and lm-eval tasks."""

    kind: Literal["evaluate"]
    output: ClassVar[OutputKind] = "metrics"

    model: StepRef
    """The train step to evaluate."""
    perplexity: list[StepRef] = Field(default_factory=list)
    """Tokenize steps whose validation split is scored (loss and bits-per-byte)."""
    lm_eval: LmEvalConfig | None = None
    """lm-eval tasks; None skips lm-eval."""

    def references(self) -> Refs:
        refs: Refs = [(("model",), ref_name(self.model), ("model",))]
        refs.extend((("perplexity", i), ref_name(ref), ("tokens",)) for i, ref in enumerate(self.perplexity))
        return refs

    def cross_field_errors(self) -> Problems:
        if not self.perplexity and self.lm_eval is None:
            return [(("perplexity",), "an evaluate step needs `perplexity` data, `lm_eval` tasks, or both")]
        return []
