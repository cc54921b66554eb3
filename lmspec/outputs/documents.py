"""The one document format between data steps: sharded, compressed JSONL with a fixed record schema.

A record is `{"id", "text", "source", "metadata", "attributes"}`; a step's output directory holds
`part-00000-of-00004.jsonl.gz` (or `.zst`) shards, in a stable order, plus `stats.json`. Any shard can
be read with `zcat | jq`.

Every data step reads its input shards through `read_shard` (or `each_document`, `rewrite_shard` on top
of it), so a bad record is handled the same way everywhere: `on_error = "fail"` stops the step at its file
and line, `"skip"` counts it in stats.json (`skipped`, the first `errors`) and goes on.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypedDict

from lmspec.errors import LmspecError
from lmspec.outputs.base import Output, without_timing

SHARD_SUFFIXES = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}
"""A data step's `compression` -> the suffix of its output shards."""
GZIP_LEVEL = 1
"""Level 1 writes ~6x faster than the default 6 for ~10% larger shards: the codec is the filter's ceiling."""
STATS_FILE = "stats.json"
MAX_ERRORS_KEPT = 20
"""stats.json keeps the first reasons for skipped records, not all: a bad crawl can have millions."""

OnError = Literal["fail", "skip"]
"""A data step's `on_error`: what a bad record does to the step."""


class Document(TypedDict):
    id: str
    text: str
    source: str
    metadata: dict[str, Any]
    attributes: dict[str, Any]


class DataError(LmspecError):
    """Bad input data, located at a file and line (or record): what it is, and what to do."""


@dataclass
class DocumentStats:
    """`stats.json` of a documents output: one shard task's counts, or (`total`) their sum for the step."""

    documents_in: int = 0
    """Documents read (a skipped record is not one)."""
    bytes_in: int = 0
    """UTF-8 bytes of their texts (ingest: of its input files), measured before a step changes a text."""
    documents_out: int = 0
    bytes_out: int = 0
    skipped: int = 0
    """Bad records left out under `on_error = "skip"`."""
    errors: list[str] = field(default_factory=list)
    """Why the first `MAX_ERRORS_KEPT` of them were bad."""
    counts: dict[str, int] = field(default_factory=dict)
    """The step's own counters (`files_in`, `too_short`, `duplicates_dropped`, ...), written beside the others."""
    rules: dict[str, dict[str, int]] = field(default_factory=dict)
    """filter: `<position>:<kind>` -> how many documents the rule saw, kept and dropped."""
    shards: int = 0

    def skip(self, error: DataError, on_error: OnError) -> None:
        """A bad record: raised under `on_error = "fail"`, counted (with its reason) under `"skip"`."""
        if on_error == "fail":
            raise error
        self.skipped += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(str(error))

    @classmethod
    def total(cls, parts: list[DocumentStats]) -> DocumentStats:
        """The step's stats: every counter summed over its shard tasks, the first errors kept."""
        counts: Counter[str] = Counter()
        rules: dict[str, Counter[str]] = {}
        for part in parts:
            counts.update(part.counts)
            for name, rule_counts in part.rules.items():
                rules.setdefault(name, Counter()).update(rule_counts)
        return cls(
            documents_in=sum(p.documents_in for p in parts),
            bytes_in=sum(p.bytes_in for p in parts),
            documents_out=sum(p.documents_out for p in parts),
            bytes_out=sum(p.bytes_out for p in parts),
            skipped=sum(p.skipped for p in parts),
            errors=[error for p in parts for error in p.errors][:MAX_ERRORS_KEPT],
            counts=dict(counts),
            rules={name: dict(rule_counts) for name, rule_counts in rules.items()},
            shards=len(parts),
        )

    def to_json(self) -> dict[str, Any]:
        """Flat, as users read it: the step's own counters at the top level, `rules` only for a filter."""
        data = asdict(self)
        counts, rules = data.pop("counts"), data.pop("rules")
        return {**data, **counts, **({"rules": rules} if rules else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentStats:
        known = {f.name for f in fields(cls)} - {"counts"}
        data = without_timing(data)
        return cls(
            **{k: v for k, v in data.items() if k in known},
            counts={k: v for k, v in data.items() if k not in known},
        )

    def write(self, folder: Path) -> None:
        (folder / STATS_FILE).write_text(json.dumps(self.to_json(), indent=2, sort_keys=True))


class Documents(Output):
    """A documents output (ingest, extract, filter, dedup): its shards in order, read record by record."""

    kind = "documents"

    def shards(self) -> list[Path]:
        """The document shards, in order."""
        return sorted(p for p in self.path.iterdir() if p.name.startswith("part-") and ".jsonl" in p.name)

    def read(self) -> Iterator[Document]:
        """Every document of every shard, in shard and line order; a bad record is an error."""
        for shard in self.shards():
            yield from read_documents(shard)

    def stats(self) -> DocumentStats:
        return DocumentStats.from_json(json.loads((self.path / STATS_FILE).read_text()))


def shard_paths(folder: Path, count: int, compression: str) -> list[Path]:
    """Where a step writes `count` shards: input shard (or file) i becomes output shard i, so order is stable."""
    return [folder / f"part-{index:05d}-of-{count:05d}{SHARD_SUFFIXES[compression]}" for index in range(count)]


@contextmanager
def open_binary(path: Path, mode: str = "rb") -> Iterator[Any]:
    """Open plain, .gz or .zst files by suffix, as bytes."""
    if path.name.endswith(".gz"):
        with gzip.GzipFile(path, mode, compresslevel=GZIP_LEVEL, mtime=0) as f:  # mtime 0: same bytes every run
            yield f
    elif path.name.endswith(".zst"):
        import zstandard

        with path.open(mode) as raw:
            if "r" in mode:
                with io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw)) as f:
                    yield f
            else:
                with zstandard.ZstdCompressor(level=3).stream_writer(raw) as f:
                    yield f
    else:
        with path.open(mode) as f:
            yield f


def read_lines(path: Path) -> Iterator[tuple[int, str | DataError]]:
    """(1-based line number, line or the error that line is) of a text file.

    A line that is not UTF-8 is an error for that line only; a truncated or corrupt compressed file is
    an error at the line where reading stopped (nothing after it can be read).
    """
    line_no = 0
    try:
        with open_binary(path) as f:
            for line_no, raw in enumerate(f, start=1):
                try:
                    yield line_no, raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield (
                        line_no,
                        DataError(
                            f"{path}:{line_no}: not UTF-8 ({exc.reason} at byte {exc.start}); "
                            'convert the file to UTF-8, or set on_error = "skip"'
                        ),
                    )
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        yield (
            line_no + 1,
            DataError(
                f"{path}:{line_no + 1}: the file is truncated or corrupt ({exc}); "
                "nothing after this line can be read: re-download or re-compress it"
            ),
        )


def parse_json_line(path: Path, line_no: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{line_no}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}:{line_no}: expected a JSON object per line, got {type(record).__name__}")
    return record


def read_shard(path: Path, on_error: OnError, stats: DocumentStats) -> Iterator[tuple[int, Document]]:
    """(line number, document) for each good record of one shard, in order, counted in `stats`; a bad
    record (a line that is no document, a truncated file) is raised or skipped as `on_error` says."""
    for line_no, line in read_lines(path):
        try:
            if isinstance(line, DataError):
                raise line
            doc, size = _document(path, line_no, parse_json_line(path, line_no, line))
        except DataError as error:
            stats.skip(error, on_error)
            continue
        stats.documents_in += 1
        stats.bytes_in += size
        yield line_no, doc


def _document(path: Path, line_no: int, record: dict[str, Any]) -> tuple[Document, int]:
    """A record checked against the document schema, and the UTF-8 size of its text.

    Checked here, where every step reads, so that a record no step could write back (a text with a lone
    surrogate, which JSON allows and UTF-8 does not) fails at its line and not deep inside an engine.
    """
    where = f"{path}:{line_no}"
    doc_id, text = record.get("id"), record.get("text")
    metadata, attributes = record.get("metadata", {}), record.get("attributes", {})
    if not isinstance(doc_id, str) or not isinstance(text, str):
        raise DataError(f"{where}: not a document: `id` and `text` must be strings (fields: {', '.join(record)})")
    if not isinstance(metadata, dict) or not isinstance(attributes, dict):
        raise DataError(f"{where}: not a document: `metadata` and `attributes` must be objects")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise DataError(f"{where}: the text is not valid Unicode ({exc.reason} at character {exc.start})") from None
    source = record.get("source", "")
    return Document(id=doc_id, text=text, source=source, metadata=metadata, attributes=attributes), size


def read_documents(path: Path) -> Iterator[Document]:
    """The documents of one shard written by lmspec; a bad record is an error."""
    for _, doc in read_shard(path, "fail", DocumentStats()):
        yield doc


def each_document[T](
    path: Path, on_error: OnError, stats: DocumentStats, step: Callable[[int, Document], T]
) -> Iterator[T]:
    """`step(index, document)` for every document of a shard (index among the documents read).

    A document on which `step` raises (an extractor or a rule failing on it) is a bad record like an
    unreadable line: the step fails at its line, or it is counted as skipped.
    """
    for index, (line_no, doc) in enumerate(read_shard(path, on_error, stats)):
        try:
            result = step(index, doc)
        except Exception as exc:  # whatever an engine raises on one document is that document's problem
            failure = DataError(
                f"{path}:{line_no}: document `{doc['id']}` cannot be processed ({type(exc).__name__}: {exc}); "
                'on_error = "skip" counts and skips such documents'
            )
            stats.skip(failure, on_error)
            continue
        yield result


class ShardWriter:
    """Writes one shard; the name is given by the caller so the order of shards is stable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.documents = 0
        self.bytes = 0
        self._context = open_binary(path, "wb")
        self._file = self._context.__enter__()

    def write(self, doc: Document) -> None:
        """Append one document; one that UTF-8 cannot encode (a lone surrogate from JSON) is a `DataError`."""
        try:
            line = (json.dumps(doc, ensure_ascii=False) + "\n").encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise DataError(
                f"{doc['source']}: document `{doc['id']}` is not valid Unicode ({exc.reason}: {bad!r})"
            ) from None
        self._file.write(line)
        self.documents += 1
        self.bytes += len(doc["text"].encode("utf-8"))

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def rewrite_shard(
    source: Path, target: Path, on_error: OnError, rewrite: Callable[[int, Document], Document | None]
) -> DocumentStats:
    """Stream `source` into `target`, writing the documents `rewrite(index, doc)` returns.

    The shard loop every one-shard-in, one-shard-out data step shares; it returns the standard counters
    (documents and bytes in and out, bad records skipped).
    """
    stats = DocumentStats()
    writer = ShardWriter(target)
    try:
        for kept in each_document(source, on_error, stats, rewrite):
            if kept is not None:
                writer.write(kept)
    finally:
        writer.close()
    stats.documents_out, stats.bytes_out = writer.documents, writer.bytes
    return stats
