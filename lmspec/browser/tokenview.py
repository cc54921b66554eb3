"""A tokenize step's documents shown as the tokens its tokenizer makes of them.

The documents come from the step's input (through the document index, so any one opens at once), the
tokenizer from the copy the step keeps in its output (`outputs.tokenizer.Tokenizer`), loaded with the
`tokenizers` library alone: the same `tokenizer.json`, without transformers or MaxText.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.browser.context import Browser, NotFound
from lmspec.browser.documents import output_index
from lmspec.catalog.store import ArtifactRecord
from lmspec.outputs.tokenizer import Tokenizer
from lmspec.outputs.tokens import TokenizedData, TokensInfo
from lmspec.schemas.training import Tokenize

MAX_TOKENS = 2_000
"""Tokens shown per document; the count covers the whole text."""


@dataclass(frozen=True)
class TokenizedDocument:
    """One input document of a tokenize step and its tokens: (id, the text the token covers)."""

    number: int
    total: int
    """Documents in the step's input."""
    document: dict[str, Any]
    tokens: list[tuple[int, str]]
    count: int
    info: TokensInfo


def tokenized_document(browser: Browser, record: ArtifactRecord, number: int) -> TokenizedDocument:
    """Input document `number` of a tokenize artifact, tokenized with the step's tokenizer."""
    spec = Tokenize.model_validate(record.config)
    path = record.inputs.get(spec.input.removeprefix("@"))
    if path is None:
        raise NotFound(f"the catalog has no input `{spec.input}` for step `{record.step_name}`")
    index = output_index(browser, browser.local(path))
    if not 0 <= number < index.total:
        raise NotFound(f"document {number} is not in the input of `{record.step_name}` ({index.total} documents)")
    output = browser.local(record.output_path)
    document = index.document(number)
    text = str(document.get("text", ""))
    encoding = _tokenizer(str(Tokenizer(output).file)).encode(text, add_special_tokens=False)
    tokens = _spans(text, encoding.ids, encoding.offsets)
    info = TokenizedData(output).info()
    return TokenizedDocument(number, index.total, document, tokens[:MAX_TOKENS], len(tokens), info)


def _spans(text: str, ids: list[int], offsets: list[tuple[int, int]]) -> list[tuple[int, str]]:
    """Each token with the text from the previous token's end to its own, so that the spans cover the whole
    text (a byte-level tokenizer's offsets leave the space before a word outside the word's token)."""
    spans, previous = [], 0
    for token, (_, end) in zip(ids, offsets, strict=True):
        spans.append((token, text[previous:end]))
        previous = max(previous, end)
    return spans


@functools.lru_cache(maxsize=8)
def _tokenizer(path: str) -> Any:
    from tokenizers import Tokenizer as HfTokenizer

    if not Path(path).is_file():
        raise NotFound(f"the tokenizer file {path} is missing")
    return HfTokenizer.from_file(path)
