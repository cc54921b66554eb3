"""Chat and preference records as ingest reads them: what becomes a document, and each bad record's message."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmspec.outputs.chat import chat_document, conversations, preference_document, preference_pairs
from lmspec.outputs.documents import DataError, Documents, ShardWriter
from lmspec.runtime.evaluation.chat_eval import token_f1

WHERE = "chat.jsonl:7"


def _chat(*messages: dict[str, object]) -> dict[str, object]:
    return {"messages": list(messages), "source_url": "https://example.org"}


def test_a_conversation_keeps_its_messages_and_reads_as_a_transcript() -> None:
    doc = chat_document(
        _chat(
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Hello."},
        ),
        "c1",
        "chat.jsonl",
        WHERE,
    )
    assert doc["text"] == "system: Be brief.\n\nuser: Hi?\n\nassistant: Hello."
    assert doc["metadata"]["messages"][2] == {"role": "assistant", "content": "Hello."}
    assert doc["metadata"]["source_url"] == "https://example.org"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "no messages"}, "chat.jsonl:7: `messages` must be a non-empty list of messages, got None"),
        ({"messages": []}, "chat.jsonl:7: `messages` must be a non-empty list of messages, got []"),
        (
            _chat({"role": "bot", "content": "hi"}),
            "chat.jsonl:7: `messages[0]`: unknown role 'bot'; expected one of system, user, assistant",
        ),
        (
            _chat({"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}),
            "chat.jsonl:7: `messages[1]`: the assistant turn is empty; drop the record or give the answer",
        ),
        (_chat({"role": "user", "content": "hi"}), "chat.jsonl:7: `messages` has no assistant turn"),
        (
            _chat({"role": "user", "content": "hi"}, {"role": "system", "content": "late"}),
            "chat.jsonl:7: `messages[1]`: a system message may only come first",
        ),
        (
            _chat({"role": "user", "content": 3}),
            "chat.jsonl:7: `messages[0]` must be an object with a string `content`",
        ),
    ],
)
def test_a_bad_chat_record_is_named_at_its_line(record: dict[str, object], message: str) -> None:
    with pytest.raises(DataError) as raised:
        chat_document(record, "c1", "chat.jsonl", WHERE)
    assert str(raised.value).startswith(message)


def test_a_preference_record_takes_strings_or_message_lists() -> None:
    doc = preference_document(
        {"prompt": "Title?", "chosen": "Calls", "rejected": [{"role": "assistant", "content": "Slicings"}]},
        "p1",
        "prefs.jsonl",
        "prefs.jsonl:2",
    )
    meta = doc["metadata"]
    assert meta["prompt"] == [{"role": "user", "content": "Title?"}]
    assert meta["chosen"] == [{"role": "assistant", "content": "Calls"}]
    assert meta["rejected"] == [{"role": "assistant", "content": "Slicings"}]
    assert doc["text"] == "user: Title?\n\nassistant: Calls"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"prompt": "Title?", "chosen": "Calls"},
            "prefs.jsonl:2: `rejected` is missing (fields: chosen, prompt); a preference record needs prompt, chosen",
        ),
        (
            {"prompt": "Title?", "chosen": [{"role": "user", "content": "x"}], "rejected": "y"},
            "prefs.jsonl:2: `chosen` must hold assistant messages only",
        ),
        (
            {"prompt": "Title?", "chosen": "", "rejected": "y"},
            "prefs.jsonl:2: `chosen[0]`: the assistant turn is empty",
        ),
    ],
)
def test_a_bad_preference_record_is_named_at_its_line(record: dict[str, object], message: str) -> None:
    with pytest.raises(DataError) as raised:
        preference_document(record, "p1", "prefs.jsonl", "prefs.jsonl:2")
    assert str(raised.value).startswith(message)


def test_post_training_reads_chat_documents_back_and_refuses_plain_ones(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "part-00000-of-00001.jsonl.gz")
    chat = _chat({"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."})
    pair = {"prompt": "Title?", "chosen": "Calls", "rejected": "Slicings"}
    writer.write(chat_document(chat, "c1", "chat.jsonl", WHERE))
    writer.write(preference_document(pair, "p1", "prefs.jsonl", "prefs.jsonl:1"))
    writer.close()
    documents = Documents(tmp_path)
    with pytest.raises(DataError, match=r"document `p1` has no `metadata\.messages`: it is not chat data; read it"):
        list(conversations(documents))
    with pytest.raises(DataError, match=r"document `c1` has no `metadata\.prompt`: it is not preference data"):
        list(preference_pairs(documents))


@pytest.mark.parametrize(
    ("answer", "reference", "f1"),
    [
        ('The "assert" statement', 'The "assert" statement', 1.0),
        ("The assert", 'The "assert" statement', 0.8),
        ("Calls", "Slicings", 0.0),
        ("", "Calls", 0.0),
    ],
)
def test_token_f1_is_squad_s_word_overlap(answer: str, reference: str, f1: float) -> None:
    assert token_f1(answer, reference) == pytest.approx(f1)
