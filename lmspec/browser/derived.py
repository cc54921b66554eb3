"""What the browser derives from a step's input and output documents, computed once and cached.

Filter and dedup steps write only the documents they keep, one output shard per input shard in the same
order; so walking an input shard beside its output shard tells which input documents were kept (and where
they are in the output) without any record of the decisions. What is derived from that (a filter's
verdicts, a dedup's clusters) is saved as numpy arrays under the browser's index folder, keyed by the
content signature of the outputs involved, so a re-run step is derived again.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lmspec.browser.context import NotFound
from lmspec.browser.docindex import DocumentIndex, build_lock, content_signature

Arrays = dict[str, np.ndarray]


def cached_arrays(folder: Path, outputs: list[Path], compute: Callable[[], Arrays]) -> Arrays:
    """`compute()`'s arrays, saved in `folder` under a key of the outputs' contents and loaded while it holds."""
    key = hashlib.sha256(json.dumps([content_signature(o) for o in outputs]).encode()).hexdigest()[:16]
    path = folder / f"{key}.npz"
    with build_lock(path):
        if path.is_file():
            with np.load(path) as saved:
                return {name: saved[name] for name in saved.files}
        arrays = compute()
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.npz"):
            stale.unlink(missing_ok=True)
        tmp = folder / f".{key}.{uuid.uuid4().hex}.npz"
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
        return arrays


def aligned(
    source: DocumentIndex, output: DocumentIndex
) -> Iterator[tuple[int, dict[str, Any], int, dict[str, Any] | None]]:
    """(input number, input document, output number or -1, output document or None) for every input
    document: shard by shard, an output document is the next input document with its id."""
    if len(source.shard_starts) != len(output.shard_starts):
        raise NotFound("the step's output has not one shard per input shard: its kept documents cannot be matched")
    for shard in range(len(source.shard_starts) - 1):
        pending = _parsed(output, output.shard_starts[shard], output.shard_starts[shard + 1])
        current = next(pending, None)
        for number, line in _lines(source, source.shard_starts[shard], source.shard_starts[shard + 1]):
            doc = json.loads(line)
            if current is not None and current[1].get("id") == doc.get("id"):
                yield number, doc, current[0], current[1]
                current = next(pending, None)
            else:
                yield number, doc, -1, None


def _lines(index: DocumentIndex, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
    for number, line in index.scan(start):
        if number >= stop:
            return
        yield number, line


def _parsed(index: DocumentIndex, start: int, stop: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in _lines(index, start, stop):
        yield number, json.loads(line)
