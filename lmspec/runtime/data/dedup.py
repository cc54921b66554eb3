"""`dedup`: exact (normalised-text hash) or MinHash near-duplicate removal, one document kept per cluster.

Beam shard tasks hash every document (exact: its normalised text; minhash: its signature), then, for
minhash, one task per LSH band groups equal bands into candidate pairs. The driver checks each minhash
candidate's true Jaccard similarity on its shingles, so no pair below the threshold is merged and none
above it is lost to signature noise. Pairs are joined into clusters (union-find) that keep their first
document in shard and line order, whatever the runner. A last pipeline rewrites each shard without the
dropped documents.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from lmspec.outputs.documents import Documents, DocumentStats, OnError, read_shard, rewrite_shard, shard_paths
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.data.minhash import choose_bands, jaccard, ngram_hashes, normalize, signature
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Dedup

Location = tuple[int, int]
"""(shard index, document index within the shard)."""


@dataclass(frozen=True)
class Round1Files:
    """Where round 1 writes a shard's hashes (or signatures) and, for MinHash, its n-gram hashes."""

    hashes: Path
    grams: Path
    grams_offsets: Path


@dataclass(frozen=True)
class HashTask:
    """Round 1: one input shard hashed (a Beam element)."""

    source: Path
    files: Round1Files
    spec: Dedup


@dataclass(frozen=True)
class BandTask:
    """Round 2 (MinHash): one LSH band of every shard's signatures grouped into candidate pairs (a Beam element)."""

    band: int
    rows: int
    signatures: tuple[Path, ...]
    output: Path


@dataclass(frozen=True)
class WriteTask:
    """The last round: one input shard rewritten without its dropped documents (a Beam element)."""

    source: Path
    target: Path
    dropped: frozenset[int]
    """Indices of the documents to drop, among the shard's documents read."""
    on_error: OnError


@executes(Dedup)
def dedup(ctx: StepContext[Dedup]) -> StepResult:
    spec = ctx.spec
    inputs = ctx.input(spec.input, Documents).shards()
    started = time.time()
    if spec.method == "minhash":
        bands, rows = banding(spec)
        ctx.log.info(
            "minhash: %d permutations in %d bands of %d rows, threshold %.2f", spec.num_perm, bands, rows, spec.jaccard
        )
    work = ctx.output_dir / "_dedup"
    pairs, offsets = _candidate_pairs(inputs, spec, work)
    ctx.log.info("%d candidate pairs after %.1f s", len(pairs), time.time() - started)
    if spec.method == "minhash":
        pairs = verified(pairs, offsets, work, spec)
        ctx.log.info("%d pairs above the threshold after %.1f s", len(pairs), time.time() - started)
    shutil.rmtree(work, ignore_errors=True)
    dropped = _dropped(_locations(pairs, offsets))
    ctx.log.info("dropping %d documents", len(dropped))
    dropped_in: dict[int, set[int]] = defaultdict(set)
    for shard, index in dropped:
        dropped_in[shard].add(index)
    targets = shard_paths(ctx.output_dir, len(inputs), spec.compression)
    tasks = [
        WriteTask(source, target, frozenset(dropped_in[i]), spec.on_error)
        for i, (source, target) in enumerate(zip(inputs, targets, strict=True))
    ]
    results = run_shard_tasks(tasks, write_kept, ctx.output_dir, spec.runner, spec.workers)
    ctx.log.info("shards written after %.1f s", time.time() - started)
    return step_stats.finish(ctx.output_dir, results, started, duplicate_pairs=len(pairs))


def banding(spec: Dedup) -> tuple[int, int]:
    """(bands, rows) of the MinHash LSH: as the spec sets them, or chosen for its `jaccard` threshold."""
    if spec.bands:
        return spec.bands, spec.num_perm // spec.bands
    return choose_bands(spec.num_perm, spec.jaccard)


def _candidate_pairs(inputs: list[Path], spec: Dedup, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """Candidate duplicate pairs as (k, 2) document indices across all shards, and the shards' start indices,
    from two rounds of Beam shard tasks that write numpy arrays under `work`.

    Round 1 hashes every shard (one text hash per document, or its MinHash signature and, for the exact
    check, its n-gram hashes). For exact dedup the driver groups the hashes; for MinHash, round 2 has one
    task per LSH band that groups the documents whose band of the signature is equal (DataTrove's bucket
    stage, without a per-element shuffle).
    """
    work.mkdir(parents=True, exist_ok=True)
    tasks = [HashTask(path, _round1_files(work, i), spec) for i, path in enumerate(inputs)]
    counts = run_shard_tasks(tasks, hash_shard, work, spec.runner, spec.workers)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if spec.method == "exact":
        hashes = np.concatenate([np.load(t.files.hashes) for t in tasks]) if tasks else np.zeros(0, dtype=np.uint64)
        return _group_pairs(hashes, star=True), offsets
    bands, rows = banding(spec)
    signatures = tuple(t.files.hashes for t in tasks)
    band_tasks = [BandTask(b, rows, signatures, work / f"pairs-{b:05d}.npy") for b in range(bands)]
    run_shard_tasks(band_tasks, band_pairs, work, spec.runner, spec.workers)
    found = np.concatenate([np.load(t.output) for t in band_tasks]) if band_tasks else np.zeros((0, 2), dtype=np.int64)
    total = int(offsets[-1]) or 1
    keys = np.unique(found[:, 0].astype(np.int64) * total + found[:, 1])  # one int per pair: a fast unique
    return np.stack([keys // total, keys % total], axis=1), offsets


def _round1_files(work: Path, shard: int) -> Round1Files:
    return Round1Files(
        hashes=work / f"hashes-{shard:05d}.npy",
        grams=work / f"grams-{shard:05d}.npy",
        grams_offsets=work / f"grams-offsets-{shard:05d}.npy",
    )


def _shard_of(documents: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The shard of each global document index, given the shards' start indices."""
    shards: np.ndarray = np.searchsorted(offsets, documents, side="right") - 1
    return shards


def _locations(pairs: np.ndarray, offsets: np.ndarray) -> list[tuple[Location, Location]]:
    """Global document indices -> (shard, index in shard) locations, vectorised."""
    shard = _shard_of(pairs, offsets)
    local = pairs - offsets[shard]
    return [((sa, ia), (sb, ib)) for (sa, sb), (ia, ib) in zip(shard.tolist(), local.tolist(), strict=True)]


def hash_shard(task: HashTask) -> int:
    """Round 1: a 64-bit hash of each document's normalised text, or its MinHash signature; returns how many
    documents the shard has (bad records are skipped exactly as the last round skips them, so indices agree)."""
    spec = task.spec
    docs = [doc for _, doc in read_shard(task.source, spec.on_error, DocumentStats())]
    values: np.ndarray
    if spec.method == "exact":
        values = np.array(
            [
                int.from_bytes(hashlib.blake2b(normalize(d["text"]).encode(), digest_size=8).digest(), "little")
                for d in docs
            ],
            dtype=np.uint64,
        )
    else:
        grams = [ngram_hashes(d["text"], spec.ngram) for d in docs]
        values = np.array([signature(g, spec.num_perm, spec.seed) for g in grams], dtype=np.uint32).reshape(
            len(docs), spec.num_perm
        )
        offsets = np.cumsum([0, *map(len, grams)], dtype=np.int64)
        flat = np.concatenate(grams) if grams else np.zeros(0, dtype=np.uint32)
        np.save(task.files.grams, flat)
        np.save(task.files.grams_offsets, offsets)
    np.save(task.files.hashes, values)
    return len(docs)


def band_pairs(task: BandTask) -> None:
    """Round 2 (MinHash): documents whose rows of one band are equal become candidate pairs (a Beam task)."""
    rows, band = task.rows, task.band
    parts = [np.load(path, mmap_mode="r")[:, band * rows : (band + 1) * rows] for path in task.signatures]
    block = np.concatenate(parts) if parts else np.zeros((0, rows), dtype=np.uint32)
    keys = np.zeros(len(block), dtype=np.uint64)
    with np.errstate(over="ignore"):  # a 64-bit polynomial hash of the band's rows; collisions are re-checked
        for column in range(rows):
            keys = keys * np.uint64(0x100000001B3) + block[:, column].astype(np.uint64)
    np.save(task.output, _group_pairs(keys, star=False))


MAX_ALL_PAIRS_BUCKET = 16
"""Above this many documents in one bucket, pair each with the first only (a star keeps the cluster whole)."""


def _group_pairs(keys: np.ndarray, star: bool) -> np.ndarray:
    """(i, j) index pairs, i < j, of equal keys: every pair of a small group, or a star from its first member."""
    if keys.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    starts = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
    ends = np.append(starts[1:], len(ranked))
    pairs: list[tuple[int, int]] = []
    for start, end in zip(starts, ends, strict=True):
        if end - start < 2:
            continue
        members = sorted(int(m) for m in order[start:end])
        if star or len(members) > MAX_ALL_PAIRS_BUCKET:
            pairs.extend((members[0], m) for m in members[1:])
        else:
            pairs.extend(combinations(members, 2))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def verified(pairs: np.ndarray, offsets: np.ndarray, work: Path, spec: Dedup) -> np.ndarray:
    """The candidate pairs whose true Jaccard similarity of word n-grams reaches the threshold, every one
    checked exactly on the n-gram hashes round 1 saved under `work` (no document is read or hashed twice)."""
    grams = _ngrams(work, offsets, np.unique(pairs))
    keep = np.array([jaccard(grams[a], grams[b]) >= spec.jaccard for a, b in pairs.tolist()], dtype=bool)
    kept: np.ndarray = pairs[keep]
    return kept


def _ngrams(work: Path, offsets: np.ndarray, documents: np.ndarray) -> dict[int, np.ndarray]:
    """Global document index -> its sorted n-gram hashes, for the given documents only."""
    grams: dict[int, np.ndarray] = {}
    shard_of = _shard_of(documents, offsets)
    for shard in np.unique(shard_of).tolist():
        files = _round1_files(work, shard)
        flat = np.load(files.grams)
        starts = np.load(files.grams_offsets).tolist()
        for document in documents[shard_of == shard].tolist():
            index = document - int(offsets[shard])
            grams[document] = flat[starts[index] : starts[index + 1]]
    return grams


def _dropped(pairs: list[tuple[Location, Location]]) -> set[Location]:
    """Union-find over duplicate pairs; every cluster keeps its first document (lowest location)."""
    parent: dict[Location, Location] = {}

    def find(x: Location) -> Location:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x for x in parent if find(x) != x}


def write_kept(task: WriteTask) -> DocumentStats:
    stats = rewrite_shard(task.source, task.target, task.on_error, lambda i, doc: None if i in task.dropped else doc)
    stats.counts["duplicates_dropped"] = len(task.dropped)
    return stats
