"""Chat and preference data: how they ride in documents, and the files post-training prepares from them.

An ingest with `format = "chat"` writes one document per conversation, its messages in `metadata.messages`
(`[{"role": "system"|"user"|"assistant", "content": "..."}]`); with `format = "preference"`, one per pair,
`metadata.prompt`, `metadata.chosen` and `metadata.rejected` as message lists (a string prompt is one user
message, a string response one assistant message). The document's `text` is a readable transcript, so
filters, dedup and the browser work on chat data as on any documents.

An sft or dpo step renders these with its chat template into files MaxText's input pipeline reads, under
its resume directory (kept across killed attempts): `data/conversations-NNNNN.parquet` (a `messages` column)
or `data/pairs-NNNNN.array_record` (text features `prompt`, `chosen`, `rejected`), beside the `tokenizer/`
that carries the template (`lmspec.outputs.tokenizer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lmspec.outputs.documents import DataError, Document, Documents

MESSAGES = "messages"
PROMPT, CHOSEN, REJECTED = "prompt", "chosen", "rejected"
PAIR = "prompt, chosen and rejected"
ROLES = ("system", "user", "assistant")
ASSISTANT = "assistant"
PREPARED_DIR = "data"
CONVERSATIONS = "conversations-*.parquet"
"""What an sft step prepares: Parquet files with a `messages` column."""
PAIRS = "pairs-*.array_record"
"""What a dpo step prepares: ArrayRecord files of `tf.train.Example`s with text `prompt`, `chosen`, `rejected`."""

Message = dict[str, str]
ChatFormat = Literal["chat", "preference"]


@dataclass(frozen=True)
class PreferencePair:
    """A prompt (messages before the response) and two responses (assistant messages), the first preferred."""

    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]


def prepared_glob(work_dir: str, pattern: str) -> str:
    """The files (CONVERSATIONS or PAIRS) a post-training step prepares under `work_dir` (`grain_train_files`)."""
    return f"{work_dir}/{PREPARED_DIR}/{pattern}"


def prepared_file(work_dir: Path, pattern: str, index: int) -> Path:
    """The `index`-th file of `pattern` (CONVERSATIONS or PAIRS) under `work_dir`, its folder created."""
    folder = work_dir / PREPARED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder / pattern.replace("*", f"{index:05d}")


def chat_document(record: dict[str, Any], doc_id: str, origin: str, where: str) -> Document:
    """A chat record (`{"messages": [...]}` plus any other fields, kept as metadata) as a document; `where`
    (`file:line`) locates what is wrong with it."""
    messages = check_conversation(record.get(MESSAGES), where, MESSAGES)
    if not any(m["role"] == ASSISTANT for m in messages):
        raise DataError(f"{where}: `{MESSAGES}` has no assistant turn: there is nothing to learn to answer")
    metadata = {k: v for k, v in record.items() if k != "id"}
    return Document(id=doc_id, text=transcript(messages), source=origin, metadata=metadata, attributes={})


def preference_document(record: dict[str, Any], doc_id: str, origin: str, where: str) -> Document:
    """A preference record (`prompt`, `chosen`, `rejected`: strings or message lists) as a document."""
    for field in (PROMPT, CHOSEN, REJECTED):
        if field not in record:
            have = ", ".join(sorted(record)) or "none"
            raise DataError(f"{where}: `{field}` is missing (fields: {have}); a preference record needs {PAIR}")
    pair = PreferencePair(
        _as_messages(record[PROMPT], where, PROMPT, "user"),
        _as_messages(record[CHOSEN], where, CHOSEN, ASSISTANT),
        _as_messages(record[REJECTED], where, REJECTED, ASSISTANT),
    )
    for field, response in ((CHOSEN, pair.chosen), (REJECTED, pair.rejected)):
        if any(m["role"] != ASSISTANT for m in response):
            raise DataError(f"{where}: `{field}` must hold assistant messages only (the response to the prompt)")
    metadata = {k: v for k, v in record.items() if k not in ("id", PROMPT, CHOSEN, REJECTED)}
    metadata.update({PROMPT: pair.prompt, CHOSEN: pair.chosen, REJECTED: pair.rejected})
    text = transcript(pair.prompt + pair.chosen)
    return Document(id=doc_id, text=text, source=origin, metadata=metadata, attributes={})


def _as_messages(value: Any, where: str, field: str, role: str) -> list[Message]:
    """A string is one message of `role`; a list is checked as a conversation."""
    if isinstance(value, str):
        value = [{"role": role, "content": value}]
    return check_conversation(value, where, field)


def check_conversation(value: Any, where: str, field: str) -> list[Message]:
    """Messages with a known role and string content, system first if at all, and no empty assistant turn."""
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: `{field}` must be a non-empty list of messages, got {_shown(value)}")
    messages: list[Message] = []
    for index, message in enumerate(value):
        at = f"{where}: `{field}[{index}]`"
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise DataError(f"{at} must be an object with a string `content`, got {_shown(message)}")
        role = message.get("role")
        if role not in ROLES:
            raise DataError(f"{at}: unknown role {_shown(role)}; expected one of {', '.join(ROLES)}")
        if role == "system" and index:
            raise DataError(f"{at}: a system message may only come first")
        if role == ASSISTANT and not message["content"].strip():
            raise DataError(f"{at}: the assistant turn is empty; drop the record or give the answer")
        messages.append({"role": role, "content": message["content"]})
    return messages


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def transcript(messages: list[Message]) -> str:
    """A readable rendering (`role: content` blocks), the document text of chat data."""
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


def conversations(documents: Documents) -> Iterator[tuple[str, list[Message]]]:
    """(where, messages) of each conversation of a `format = "chat"` documents output, in document order;
    `where` names the document for messages about it."""
    for doc in documents.read():
        yield _where(doc), _metadata_conversation(doc, MESSAGES, "chat")


def preference_pairs(documents: Documents) -> Iterator[tuple[str, PreferencePair]]:
    """(where, pair) of each pair of a `format = "preference"` documents output, in document order."""
    for doc in documents.read():
        fields = (_metadata_conversation(doc, f, "preference") for f in (PROMPT, CHOSEN, REJECTED))
        yield _where(doc), PreferencePair(*fields)


def _where(doc: Document) -> str:
    return f"{doc['source']}: document `{doc['id']}`"


def _metadata_conversation(doc: Document, field: str, fmt: ChatFormat) -> list[Message]:
    value = doc["metadata"].get(field)
    if value is None:
        raise DataError(
            f"{_where(doc)} has no `metadata.{field}`: it is not {fmt} data; "
            f'read it with an ingest step with format = "{fmt}"'
        )
    return check_conversation(value, _where(doc), field)
