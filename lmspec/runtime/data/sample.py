"""`sample`: a seeded random subset of documents, as a Beam pipeline over shards.

Each document gets a key in [0, 1) from a hash of (seed, id, text), so whether it is drawn depends on
nothing else: not on the shards, their order, or the documents around it. `fraction` keeps the documents
whose key is below it; `count` keeps the `count` smallest keys (ties, identical documents, broken by
position), which takes two passes: the smallest keys of every shard first, then the shards with the cut.
"""

from __future__ import annotations

import hashlib
import heapq
import time
from dataclasses import dataclass
from pathlib import Path

from lmspec.outputs.documents import (
    Document,
    Documents,
    DocumentStats,
    OnError,
    each_document,
    rewrite_shard,
    shard_paths,
)
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Sample

Key = tuple[float, int, int]
"""(hash key, shard, position in the shard): unique, so a cut keeps exactly `count` documents."""


@dataclass(frozen=True)
class KeysTask:
    """One shard's `count` smallest keys (a Beam element)."""

    source: Path
    shard: int
    seed: int
    count: int
    on_error: OnError


@dataclass(frozen=True)
class SampleTask:
    """One shard's drawn documents into one output shard (a Beam element)."""

    source: Path
    target: Path
    shard: int
    seed: int
    fraction: float | None
    cut: Key | None
    """With `count`: the largest key drawn; None draws by `fraction`."""
    on_error: OnError


def document_key(seed: int, doc: Document) -> float:
    """The document's place in the seed's random order, in [0, 1)."""
    digest = hashlib.blake2b(f"{seed}\0{doc['id']}\0{doc['text']}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@executes(Sample)
def sample_documents(ctx: StepContext[Sample]) -> StepResult:
    spec = ctx.spec
    inputs = ctx.input(spec.input, Documents).shards()
    started = time.time()
    cut = _cut(inputs, ctx) if spec.count is not None else None
    targets = shard_paths(ctx.output_dir, len(inputs), spec.compression)
    tasks = [
        SampleTask(source, target, shard, spec.seed, spec.fraction, cut, spec.on_error)
        for shard, (source, target) in enumerate(zip(inputs, targets, strict=True))
    ]
    results = run_shard_tasks(tasks, sample_shard, ctx.output_dir, spec.runner, spec.workers)
    return step_stats.finish(ctx.output_dir, results, started)


def _cut(inputs: list[Path], ctx: StepContext[Sample]) -> Key | None:
    """The `count`-th smallest key over every shard; None when the input has no more than `count` documents."""
    spec = ctx.spec
    assert spec.count is not None  # called for count samples only
    tasks = [KeysTask(source, shard, spec.seed, spec.count, spec.on_error) for shard, source in enumerate(inputs)]
    smallest = heapq.nsmallest(
        spec.count,
        (key for keys in run_shard_tasks(tasks, shard_keys, ctx.output_dir, spec.runner, spec.workers) for key in keys),
    )
    return smallest[-1] if len(smallest) == spec.count else None


def shard_keys(task: KeysTask) -> list[Key]:
    keys = each_document(
        task.source,
        task.on_error,
        DocumentStats(),
        lambda index, doc: (document_key(task.seed, doc), task.shard, index),
    )
    return heapq.nsmallest(task.count, keys)


def sample_shard(task: SampleTask) -> DocumentStats:
    def draw(index: int, doc: Document) -> Document | None:
        key = document_key(task.seed, doc)
        if task.fraction is not None:
            return doc if key < task.fraction else None
        return doc if task.cut is None or (key, task.shard, index) <= task.cut else None

    return rewrite_shard(task.source, task.target, task.on_error, draw)
