"""A seekable copy of a documents output, so that any page of a million documents opens in milliseconds.

Shards are single gzip (or zstd) streams: neither can be entered in the middle, so page 20,000 read from
the shards means decompressing everything before it. The index keeps the output's raw JSON lines in blocks
of `BLOCK_DOCUMENTS`, each block compressed on its own (zstd level 1), with the byte offset of every block
and the first document of every shard. A page then costs one or two block reads.

It is built once per output, lazily (the first time a page past the first `STREAM_LIMIT` documents is asked
for, or in the background when an output is first opened), under the browser's index folder, never inside
the output: a completed step's directory holds exactly what the step wrote. An index whose output changed
(a forced re-run replaces the shards) is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmspec.outputs.documents import Documents, open_binary

INDEX_VERSION = 1
BLOCK_DOCUMENTS = 256
"""256 documents of ~1 KB: a 50-document page decompresses at most two ~100 KB blocks."""
STREAM_LIMIT = 2_000
"""Pages ending before this document are read straight from the shards while the index is being built."""
META_FILE = "meta.json"
BLOCKS_FILE = "blocks.zst"
OFFSETS_FILE = "offsets.npy"

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class DocumentIndex:
    """The index of one documents output: global document numbers in shard and line order."""

    folder: Path
    shard_starts: tuple[int, ...]
    """The global number of each shard's first document, then the total."""
    offsets: np.ndarray
    """Byte offset of each block in `blocks.zst`, then the file's size."""

    @property
    def total(self) -> int:
        return self.shard_starts[-1]

    def documents(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Documents `start` to `stop - 1` (clipped to the output)."""
        return [json.loads(line) for line in self.lines(start, stop)]

    def lines(self, start: int, stop: int) -> list[bytes]:
        start, stop = max(0, start), min(stop, self.total)
        if start >= stop:
            return []
        found: list[bytes] = []
        for block in range(start // BLOCK_DOCUMENTS, (stop - 1) // BLOCK_DOCUMENTS + 1):
            first = block * BLOCK_DOCUMENTS
            found += self._block(block)[max(0, start - first) : stop - first]
        return found

    def document(self, number: int) -> dict[str, Any]:
        return dict(json.loads(self._block(number // BLOCK_DOCUMENTS)[number % BLOCK_DOCUMENTS]))

    def scan(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """(number, raw JSON line) of every document from `start` on, block by block."""
        for block in range(max(0, start) // BLOCK_DOCUMENTS, len(self.offsets) - 1):
            first = block * BLOCK_DOCUMENTS
            for position, line in enumerate(self._block(block)):
                if first + position >= start:
                    yield first + position, line

    def _block(self, block: int) -> list[bytes]:
        import zstandard

        begin, end = int(self.offsets[block]), int(self.offsets[block + 1])
        with (self.folder / BLOCKS_FILE).open("rb") as f:
            f.seek(begin)
            raw = zstandard.ZstdDecompressor().decompress(f.read(end - begin))
        return raw.split(b"\n")[:-1]  # every line ends with one


def document_index(output: Path, folder: Path) -> DocumentIndex:
    """The index of `output` kept in `folder`: loaded when current, else built now (once per process)."""
    with build_lock(folder):
        return _load(output, folder) or _build(output, folder)


def ready_index(output: Path, folder: Path) -> DocumentIndex | None:
    """The index if it is built and current; otherwise None, and it starts building in the background."""
    found = _load(output, folder)
    if found is None and not build_lock(folder).locked():
        threading.Thread(target=document_index, args=(output, folder), daemon=True, name="browse-index").start()
    return found


def stream_documents(output: Path, start: int, stop: int) -> list[dict[str, Any]]:
    """Documents `start` to `stop - 1` read from the shards themselves (for early pages before the index)."""
    found: list[dict[str, Any]] = []
    number = 0
    for shard in Documents(output).shards():
        with open_binary(shard) as f:
            for line in f:
                if not line.strip():
                    continue
                if number >= start:
                    found.append(json.loads(line))
                number += 1
                if number >= stop:
                    return found
    return found


def build_lock(folder: Path) -> threading.Lock:
    """One lock per index folder or cache file: a process builds each once, however many requests ask."""
    with _locks_guard:
        return _locks.setdefault(folder, threading.Lock())


def content_signature(output: Path) -> list[list[Any]]:
    """What identifies an output's content for the index: its shards' names, sizes and modification times."""
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in Documents(output).shards()]


def _load(output: Path, folder: Path) -> DocumentIndex | None:
    try:
        meta = json.loads((folder / META_FILE).read_text())
        if meta.get("version") != INDEX_VERSION or meta.get("signature") != content_signature(output):
            return None
        return DocumentIndex(folder, tuple(meta["shard_starts"]), np.load(folder / OFFSETS_FILE))
    except (OSError, ValueError, KeyError):
        return None


def _build(output: Path, folder: Path) -> DocumentIndex:
    """Write the index into a temporary sibling, then rename it into place (a reader never sees half of one)."""
    import zstandard

    tmp = folder.with_name(f"{folder.name}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    compressor = zstandard.ZstdCompressor(level=1)
    offsets, starts = [0], [0]
    block: list[bytes] = []
    with (tmp / BLOCKS_FILE).open("wb") as blocks:

        def flush() -> None:
            offsets.append(offsets[-1] + blocks.write(compressor.compress(b"".join(block))))
            block.clear()

        for shard in Documents(output).shards():
            count = 0
            with open_binary(shard) as f:
                for line in f:
                    if line.strip():
                        block.append(line if line.endswith(b"\n") else line + b"\n")
                        count += 1
                        if len(block) == BLOCK_DOCUMENTS:
                            flush()
            starts.append(starts[-1] + count)
        if block:
            flush()
    np.save(tmp / OFFSETS_FILE, np.array(offsets, dtype=np.int64))
    meta = {"version": INDEX_VERSION, "signature": content_signature(output), "shard_starts": starts}
    (tmp / META_FILE).write_text(json.dumps(meta))
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:  # another process put its index there first: the same content, use it
        shutil.rmtree(tmp, ignore_errors=True)
    return DocumentIndex(folder, tuple(starts), np.array(offsets, dtype=np.int64))
