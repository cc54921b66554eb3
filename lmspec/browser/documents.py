"""Paging, searching and filtering the documents of one output, through its index.

A plain page is read by position (one or two index blocks). A search or an attribute filter is a scan from
a position: it stops when the page is full or after `SCAN_BUDGET` documents, and the page links to where it
stopped, so no request reads a whole large output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmspec.browser.context import Browser
from lmspec.browser.docindex import STREAM_LIMIT, DocumentIndex, document_index, ready_index, stream_documents
from lmspec.outputs.documents import Documents

PAGE_DOCUMENTS = 50
SCAN_BUDGET = 100_000
"""Documents one search request reads at most before it answers with what it found and where it stopped."""


@dataclass(frozen=True)
class DocumentQuery:
    """What a data page asks for: text to search, an attribute equal to a value or within a range."""

    text: str = ""
    attribute: str = ""
    value: str = ""
    low: float | None = None
    high: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.text or self.attribute)

    def matches(self, doc: dict[str, Any]) -> bool:
        if self.text and self.text.lower() not in str(doc.get("text", "")).lower():
            return False
        if not self.attribute:
            return True
        found = attribute_value(doc, self.attribute)
        if found is _MISSING:
            return False
        if self.value and _shown(found) != self.value:
            return False
        if self.low is None and self.high is None:
            return True
        number = _number(found)
        return (
            number is not None
            and (self.low is None or number >= self.low)
            and (self.high is None or number <= self.high)
        )


@dataclass(frozen=True)
class DocumentsPage:
    """Numbered documents, how many the output holds, and where the next page starts."""

    documents: list[tuple[int, dict[str, Any]]]
    total: int | None
    start: int
    next_start: int | None
    scanned: int = 0
    """For a search: documents read to fill this page."""
    attributes: list[str] = field(default_factory=list)


_MISSING = object()


def attribute_value(doc: dict[str, Any], name: str) -> Any:
    """An attribute by name, else a metadata field of that name; `_MISSING` when neither exists."""
    for table in (doc.get("attributes") or {}, doc.get("metadata") or {}):
        if name in table:
            return table[name]
    return _MISSING


def page(browser: Browser, output: Path, start: int) -> DocumentsPage:
    """`PAGE_DOCUMENTS` documents from `start`: from the index, or from the shards while it builds."""
    start = max(0, start)
    stop = start + PAGE_DOCUMENTS
    index = ready_index(output, index_folder(browser, output))
    if index is None and stop <= STREAM_LIMIT:
        documents = stream_documents(output, start, stop)
        total = _counted(output)
    else:
        index = index or output_index(browser, output)
        documents, total = index.documents(start, stop), index.total
    numbered = list(enumerate(documents, start=start))
    following = start + len(documents)
    more = following < total if total is not None else len(documents) == PAGE_DOCUMENTS
    return DocumentsPage(numbered, total, start, following if more else None, attributes=_names(documents))


def search(browser: Browser, output: Path, query: DocumentQuery, start: int) -> DocumentsPage:
    """The next `PAGE_DOCUMENTS` documents from `start` that match `query`, within `SCAN_BUDGET` reads."""
    index = output_index(browser, output)
    found: list[tuple[int, dict[str, Any]]] = []
    scanned, resume = 0, None
    for number, line in index.scan(start):
        if len(found) == PAGE_DOCUMENTS or scanned == SCAN_BUDGET:
            resume = number
            break
        scanned += 1
        doc = json.loads(line)
        if query.matches(doc):
            found.append((number, doc))
    names = _names([doc for _, doc in found])
    return DocumentsPage(found, index.total, start, resume, scanned, names)


def index_folder(browser: Browser, output: Path, part: str = "documents") -> Path:
    """Where the browser keeps what it derived from `output` (its document index, filter verdicts, clusters)."""
    return browser.index_dir / output.name / part


def output_index(browser: Browser, output: Path) -> DocumentIndex:
    """The index of `output`, built now if it is missing or stale."""
    return document_index(output, index_folder(browser, output))


def _counted(output: Path) -> int | None:
    """The documents an output holds, from its stats.json (None when it has none)."""
    try:
        return Documents(output).stats().documents_out
    except (OSError, ValueError):
        return None


def _names(documents: list[dict[str, Any]]) -> list[str]:
    """The attribute and metadata names seen on a page, for the filter form."""
    names = {name for doc in documents for key in ("attributes", "metadata") for name in (doc.get(key) or {})}
    return sorted(names)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
