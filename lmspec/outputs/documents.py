"""The one document format between data steps: sharded, compressed JSONL with a fixed record schema.

A record is `{"id", "text", "source", "metadata", "attributes"}`; a step's output directory holds
`part-00000-of-00004.jsonl.gz` (or `.zst`) shards, in a stable order, plus `stats.json`. Any shard can
be read with `zcat | jq`.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

from lmspec.errors import LmspecError
from lmspec.outputs.base import Output

SHARD_SUFFIXES = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}
"""A data step's `compression` -> the suffix of its output shards."""
GZIP_LEVEL = 1
"""Level 1 writes ~6x faster than the default 6 for ~10% larger shards: the codec is the filter's ceiling."""


class Document(TypedDict):
    id: str
    text: str
    source: str
    metadata: dict[str, Any]
    attributes: dict[str, Any]


class DataError(LmspecError):
    """Bad input data, located at a file and line (or record): what it is, and what to do."""


class Documents(Output):
    """A documents output (ingest, extract, filter, dedup): its shards in order, read record by record."""

    kind = "documents"

    def shards(self) -> list[Path]:
        return shards(self.path)

    def read(self) -> Iterator[Document]:
        """Every document of every shard, in shard and line order."""
        for shard in self.shards():
            yield from read_documents(shard)


def shard_name(index: int, total: int, compression: str) -> str:
    return f"part-{index:05d}-of-{total:05d}{SHARD_SUFFIXES[compression]}"


def shards(folder: Path) -> list[Path]:
    """The document shards of a step's output, in order."""
    return sorted(p for p in folder.iterdir() if p.name.startswith("part-") and ".jsonl" in p.name)


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


def read_documents(path: Path) -> Iterator[Document]:
    """The documents of one shard written by lmspec."""
    for line_no, line in read_lines(path):
        if isinstance(line, DataError):
            raise line
        record = parse_json_line(path, line_no, line)
        yield Document(
            id=record["id"],
            text=record["text"],
            source=record.get("source", ""),
            metadata=record.get("metadata", {}),
            attributes=record.get("attributes", {}),
        )


class ShardWriter:
    """Writes one shard; the name is given by the caller so the order of shards is stable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.documents = 0
        self.bytes = 0
        self._context = open_binary(path, "wb")
        self._file = self._context.__enter__()

    def write(self, doc: Document) -> None:
        self._file.write((json.dumps(doc, ensure_ascii=False) + "\n").encode("utf-8"))
        self.documents += 1
        self.bytes += len(doc["text"].encode("utf-8"))

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def rewrite_shard(task: dict[str, Any], rewrite: Callable[[int, Document], Document | None]) -> dict[str, Any]:
    """Stream `task["input"]` into `task["output"]`, writing the documents `rewrite(index, doc)` returns.

    The shard loop every one-shard-in, one-shard-out data step shares; it returns the standard counters
    (documents and bytes in and out, bytes in measured before `rewrite` may change a text).
    """
    writer = ShardWriter(Path(task["output"]))
    documents_in = bytes_in = 0
    try:
        for index, doc in enumerate(read_documents(Path(task["input"]))):
            documents_in += 1
            bytes_in += len(doc["text"].encode("utf-8"))
            kept = rewrite(index, doc)
            if kept is not None:
                writer.write(kept)
    finally:
        writer.close()
    return {
        "documents_in": documents_in,
        "bytes_in": bytes_in,
        "documents_out": writer.documents,
        "bytes_out": writer.bytes,
        "errors": [],
    }
