"""What `evaluate` measures on chat models: answers generated through the chat template, and preferences.

Kept beside `lmspec.schemas.evaluation` (which holds it as `Evaluate.chat`) so the chat settings and their
rules live in one place with the post-training kinds' template rules.
"""

from __future__ import annotations

from pydantic import Field

from lmspec.schemas.base import DocumentsRef, Problems, SpecModel
from lmspec.schemas.post_training import TOKENIZER_TEMPLATE, template_errors


class ChatEvaluation(SpecModel):
    """Held-out chat data scored on the model through a chat template."""

    conversations: DocumentsRef | None = None
    """An ingest step with `format = "chat"`: the model answers each conversation's last user turn (greedy, through
    the template) and is scored against its last assistant message: `chat/exact_match` and `chat/token_f1`."""
    preferences: DocumentsRef | None = None
    """An ingest step with `format = "preference"`: `preferences/accuracy` is the share of pairs where the model
    gives the chosen response a higher log-probability than the rejected one (DPO's held-out accuracy)."""
    chat_template: str = Field(default=TOKENIZER_TEMPLATE, min_length=1)
    """`"tokenizer"` (the template a post-trained model's tokenizer carries), a named template (`chatml`,
    `zephyr`: to ask a pre-trained model the same way), or a Jinja template string."""
    max_new_tokens: int = Field(default=32, ge=1, le=4096)
    """Longest answer generated."""
    limit: int | None = Field(default=None, ge=1)
    """Score at most this many conversations and pairs each; None scores them all."""

    def cross_field_errors(self) -> Problems:
        problems = template_errors(self.chat_template)
        if self.conversations is None and self.preferences is None:
            problems.append((("conversations",), "name held-out `conversations`, `preferences`, or both"))
        return problems
