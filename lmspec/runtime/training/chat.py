"""Chat templates at run time: which template a step uses, rendering conversations with it as `transformers`
does, checking before training that it marks what the loss needs, and the files MaxText reads.

A conversation is split into turns the way MaxText's SFT pipeline splits it
(`input_pipeline_utils.apply_chat_template`, called here on every record before training starts): each
assistant message is the text the template renders after the generation prompt of the messages before it.
A template that renders no such text, or renders one the assistant's answer is not in, would train on
nothing (`train_on = "assistant"`) or on the wrong tokens: that is an error at the record, not a quiet run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.outputs.chat import ASSISTANT, Message, PreferencePair
from lmspec.outputs.tokenizer import Tokenizer
from lmspec.runtime.training.maxtext_run import TrainingError
from lmspec.schemas.post_training import CHAT_TEMPLATES, TOKENIZER_TEMPLATE

PROBE = "lmspec probe answer"
"""An assistant answer rendered to find the text a template ends a turn with."""


def resolve_template(value: str, base: Tokenizer, reference: str) -> str:
    """The Jinja text of a step's `chat_template`: a named one, the string itself, or the one `base` (the
    tokenizer of the model at `reference`) carries."""
    if value in CHAT_TEMPLATES:
        return CHAT_TEMPLATES[value]
    if value != TOKENIZER_TEMPLATE:
        return value
    template = base.chat_template
    if template is None:
        raise TrainingError(
            f'chat_template = "{TOKENIZER_TEMPLATE}" but the tokenizer of {reference} carries no chat template '
            '(it was pre-trained, not post-trained); name one, e.g. chat_template = "chatml"'
        )
    return template


@dataclass(frozen=True)
class ChatRenderer:
    """A tokenizer with a chat template: renders conversations into the text a model is trained and asked on."""

    tokenizer: Any
    template: str | None = None
    """Jinja to render with instead of the tokenizer's own (evaluating a model under another template)."""

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> ChatRenderer:
        return cls(tokenizer.load())

    def prompt(self, messages: list[Message]) -> str:
        """The text that asks for the next assistant turn after `messages`."""
        return self._render(messages, add_generation_prompt=True)

    def _render(self, messages: list[Message], add_generation_prompt: bool) -> str:
        return str(
            self.tokenizer.apply_chat_template(
                messages, chat_template=self.template, add_generation_prompt=add_generation_prompt, tokenize=False
            )
        )

    def respond(self, prompt: list[Message], response: list[Message], where: str) -> tuple[str, str]:
        """(prompt text, response text): the rendering of prompt + response, cut where the prompt's ends."""
        asked = self.prompt(prompt)
        full = self._render(prompt + response, add_generation_prompt=False)
        if not full.startswith(asked) or len(full) == len(asked):
            raise TrainingError(
                f"{where}: the chat template does not render the response after the generation prompt "
                f"(prompt renders {asked[-40:]!r}, the conversation {full[-40:]!r}); use a template whose "
                "add_generation_prompt ends where the assistant's text begins (chatml, zephyr)"
            )
        return asked, full[len(asked) :]

    def end_of_turn(self) -> str:
        """What the template writes after an assistant's text: where generation stops (eos when it is nothing)."""
        user = [{"role": "user", "content": "?"}]
        _, answered = self.respond(user, [{"role": ASSISTANT, "content": PROBE}], "the chat template")
        return answered.split(PROBE, 1)[-1].strip() or str(self.tokenizer.eos_token)

    def check_turns(self, messages: list[Message], where: str) -> None:
        """Each assistant message is a turn MaxText's SFT pipeline can split off, holding the message's text
        (MaxText renders with the tokenizer's own template: this checks that one)."""
        from maxtext.input_pipeline import input_pipeline_utils

        try:
            turns = input_pipeline_utils.apply_chat_template({"messages": messages}, self.tokenizer, "messages")
        except ValueError as exc:  # MaxText's words for a template it cannot split
            raise TrainingError(f"{where}: {str(exc).splitlines()[0]}") from None
        answers = [m["content"] for m in messages if m["role"] == ASSISTANT]
        completions = [text for text, prompt in zip(turns["messages"], turns["is_prompt"], strict=True) if not prompt]
        for answer, completion in zip(answers, completions, strict=True):
            if answer.strip() not in completion:
                raise TrainingError(
                    f"{where}: the chat template marks no assistant span holding the answer {answer[:40]!r} "
                    f'(it renders {completion[:60]!r} after the generation prompt), so train_on = "assistant" '
                    "would train on nothing of it; use a template that renders the assistant's text after its "
                    'generation prompt, or train_on = "all"'
                )


def write_conversations(path: Path, conversations: Iterable[list[Message]]) -> int:
    """A Parquet file with a `messages` column (MaxText's SFT pipeline reads it); returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"messages": messages} for messages in conversations]
    pq.write_table(pa.Table.from_pylist(rows), str(path))
    return len(rows)


def write_pairs(path: Path, renderer: ChatRenderer, pairs: Iterable[tuple[str, PreferencePair]]) -> int:
    """ArrayRecord `tf.train.Example`s with text `prompt`, `chosen` and `rejected` (MaxText's DPO pipeline reads
    them), each (where, pair) rendered with the template; returns the records written."""
    from array_record.python.array_record_module import ArrayRecordWriter
    from maxtext.input_pipeline.protos import example_pb2

    writer = ArrayRecordWriter(str(path), "group_size:1")
    written = 0
    try:
        for where, pair in pairs:
            prompt, chosen = renderer.respond(pair.prompt, pair.chosen, where)
            _, rejected = renderer.respond(pair.prompt, pair.rejected, where)
            example = example_pb2.Example()
            for name, text in (("prompt", prompt), ("chosen", chosen), ("rejected", rejected)):
                example.features.feature[name].bytes_list.value.append(text.encode("utf-8"))
            writer.write(example.SerializeToString())
            written += 1
    finally:
        writer.close()
    return written
