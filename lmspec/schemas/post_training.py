"""Post-training kinds: `sft` and `dpo` continue a model step on chat or preference data through a chat template."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from lmspec.schemas.base import DocumentsRef, ModelRef, OutputKind, Problems
from lmspec.schemas.kinds import step_kind
from lmspec.schemas.training import MaxTextTraining

CHAT_TEMPLATES: dict[str, str] = {
    "chatml": (
        "{{ bos_token }}{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
        "{{ message['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    "zephyr": (
        "{{ bos_token }}{% for message in messages %}<|{{ message['role'] }}|>\n"
        "{{ message['content'] }}{{ eos_token }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    ),
}
"""Named chat templates (Jinja, as `transformers` applies them). Both open with bos, as every pre-training
document did, and mark the end of a turn with text the model learns to write (chatml) or with eos (zephyr)."""
TOKENIZER_TEMPLATE = "tokenizer"
"""`chat_template = "tokenizer"`: the template the `init_from` model's tokenizer carries."""
JINJA_MARKERS = ("{{", "{%")


class PostTraining(MaxTextTraining):
    """What `sft` and `dpo` share: they continue a model step (its final checkpoint, sizes and tokenizer) on
    documents ingested as chat or preference data, rendered with a chat template."""

    data: DocumentsRef
    """The documents to train on (an ingest step with `format = "chat"` for sft, `"preference"` for dpo)."""
    init_from: ModelRef  # required here: post-training starts from a model
    """The model step (train, sft or dpo) to start from: its final checkpoint and tokenizer; `model` must give
    its sizes (seq_len may differ)."""
    chat_template: str = Field(default=TOKENIZER_TEMPLATE, min_length=1)
    """How conversations become text: a named template (`chatml`, `zephyr`), a Jinja template string, or
    `"tokenizer"` for the one the `init_from` model's tokenizer carries. The model's tokenizer is saved with it."""

    def mixture(self) -> dict[str, float]:
        return {}  # reads documents, not tokenize steps

    def cross_field_errors(self) -> Problems:
        problems = super().cross_field_errors()
        if self.eval_every is not None:
            problems.append(
                (("eval_every",), "post-training computes no validation loss; score the model with an evaluate step")
            )
        return problems + template_errors(self.chat_template)


def template_errors(template: str) -> Problems:
    """A template that is neither a known name nor Jinja that parses."""
    if template == TOKENIZER_TEMPLATE or template in CHAT_TEMPLATES:
        return []
    if not any(marker in template for marker in JINJA_MARKERS):
        known = ", ".join([*CHAT_TEMPLATES, TOKENIZER_TEMPLATE])
        return [(("chat_template",), f"unknown template `{template}`; expected one of {known}, or a Jinja template")]
    import jinja2

    try:
        jinja2.Environment().parse(template)
    except jinja2.TemplateSyntaxError as exc:
        return [(("chat_template",), f"is not a valid Jinja template: {exc.message} (template line {exc.lineno})")]
    return []


@step_kind(executor="lmspec.runtime.training.sft")
class Sft(PostTraining):
    """Supervised fine-tuning of a model on chat conversations with MaxText's native SFT trainer."""

    kind: Literal["sft"]
    output: ClassVar[OutputKind] = "model"
    trainer: ClassVar[str] = "maxtext.trainers.post_train.sft.train_sft_native"  # appends use_sft=True

    data: DocumentsRef
    """An ingest step with `format = "chat"`: conversations of system, user and assistant messages."""
    train_on: Literal["assistant", "all"] = "assistant"
    """`assistant`: the loss counts the assistant's tokens only (the prompt is context); `all`: every token."""


@step_kind(executor="lmspec.runtime.training.dpo")
class Dpo(PostTraining):
    """Direct preference optimisation of a model on chosen/rejected response pairs, on MaxText."""

    kind: Literal["dpo"]
    output: ClassVar[OutputKind] = "model"
    trainer: ClassVar[str] = "lmspec.runtime.training.dpo_maxtext"  # MaxText's train_dpo (Tunix): see that module
    implementation: ClassVar[int] = 2  # 2: MaxText's own DPO trainer (Tunix's DPOTrainer) replaced lmspec's DPO step

    data: DocumentsRef
    """An ingest step with `format = "preference"`: a prompt with a chosen and a rejected response."""
    beta: float = Field(default=0.1, gt=0.0, le=100.0)
    """How far the policy may move from the `init_from` model (the DPO temperature); smaller is further."""
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=0.5)
    """Assumed share of flipped preference labels (conservative DPO); 0 is plain DPO."""
    max_prompt_length: int | None = Field(default=None, ge=1, le=131_072)
    """Prompt tokens kept (from the end); responses get the rest of seq_len. None: half of seq_len."""

    @property
    def prompt_length(self) -> int:
        return self.max_prompt_length or self.model.seq_len // 2

    def cross_field_errors(self) -> Problems:
        problems = super().cross_field_errors()
        if self.prompt_length >= self.model.seq_len:
            problems.append(
                (
                    ("max_prompt_length",),
                    f"leaves no room for the response in model.seq_len = {self.model.seq_len}; lower it",
                )
            )
        return problems
