"""A dedup step's clusters: each kept document beside the near-duplicates the step dropped for it.

The output holds only the kept documents; the dropped ones are found by walking the input beside the output
(`derived.aligned`). Each dropped document is matched the way the step matched it, with the step's own
hashing (`lmspec.runtime.data.minhash`, pure functions): exact dedup by the hash of the normalised text;
MinHash by LSH buckets of the signature, every candidate checked on its true Jaccard similarity. Dropped
documents joined through other dropped ones (a chain of near-copies) land in the cluster of the kept
document at the chain's start, as the step's union-find put them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmspec.browser.context import Browser, NotFound
from lmspec.browser.derived import Arrays, aligned, cached_arrays
from lmspec.browser.docindex import DocumentIndex
from lmspec.browser.documents import index_folder, output_index
from lmspec.catalog.store import ArtifactRecord
from lmspec.schemas.data import Dedup

KEPT = -1
UNMATCHED = -2
"""`representative` of a dropped document no kept document was found for."""
Signature = tuple[list[bytes], np.ndarray]
"""A dropped document's bucket keys and n-gram hashes."""
MAX_CANDIDATES = 32
"""Candidates checked per dropped document (kept ones first): a flood of copies stays linear."""


@dataclass(frozen=True)
class DedupView:
    spec: Dedup
    source: Path
    output: Path
    representative: np.ndarray
    """Per input document: `KEPT`, the input number of the kept document of its cluster, or `UNMATCHED`."""
    similarity: np.ndarray
    """Per input document: Jaccard similarity with the closest document that joined it to its cluster."""

    def clusters(self) -> list[tuple[int, list[int]]]:
        """(kept input number, dropped input numbers) per cluster, in input order; unmatched ones last as -2."""
        members: dict[int, list[int]] = defaultdict(list)
        for number in np.flatnonzero(self.representative != KEPT).tolist():
            members[int(self.representative[number])].append(number)
        return sorted(members.items(), key=lambda item: (item[0] == UNMATCHED, item[0]))


def dedup_view(browser: Browser, record: ArtifactRecord) -> DedupView:
    spec = Dedup.model_validate(record.config)
    path = record.inputs.get(spec.input.removeprefix("@"))
    if path is None:
        raise NotFound(f"the catalog has no input `{spec.input}` for step `{record.step_name}`")
    source, output = browser.local(path), browser.local(record.output_path)

    def compute() -> Arrays:
        return _clusters(spec, output_index(browser, source), output_index(browser, output))

    arrays = cached_arrays(index_folder(browser, output, "clusters"), [source, output], compute)
    return DedupView(spec, source, output, arrays["representative"], arrays["similarity"])


def _clusters(spec: Dedup, source: DocumentIndex, output: DocumentIndex) -> Arrays:
    from lmspec.runtime.data.minhash import choose_bands, jaccard, ngram_hashes, normalize, signature

    representative = np.full(source.total, KEPT, dtype=np.int64)
    similarity = np.ones(source.total, dtype=np.float32)
    bands, rows = (spec.bands, spec.num_perm // spec.bands) if spec.bands else choose_bands(spec.num_perm, spec.jaccard)
    buckets: dict[bytes, list[int]] = defaultdict(list)
    dropped: dict[int, Signature] = {}
    for number, doc, out_number, _ in aligned(source, output):
        if spec.method == "exact":
            keys = [hashlib.blake2b(normalize(doc["text"]).encode(), digest_size=8).digest()]
            grams = np.zeros(0, dtype=np.uint32)
        else:
            grams = ngram_hashes(doc["text"], spec.ngram)
            values = signature(grams, spec.num_perm, spec.seed)
            keys = [bytes([b]) + values[b * rows : (b + 1) * rows].tobytes() for b in range(bands)]
        if out_number < 0:
            dropped[number] = (keys, grams)
        for key in keys:
            buckets[key].append(number)
    parent: dict[int, int] = {}
    for number, (keys, grams) in dropped.items():
        candidates = sorted({c for key in keys for c in buckets[key] if c != number}, key=lambda c: (c in dropped, c))
        for candidate in candidates[:MAX_CANDIDATES]:
            score = 1.0 if spec.method == "exact" else jaccard(grams, _grams(source, candidate, dropped, spec))
            if score >= (1.0 if spec.method == "exact" else spec.jaccard):
                parent[number] = candidate
                similarity[number] = score
                break
    for number in dropped:
        representative[number] = _root(number, parent, dropped)
    return {"representative": representative, "similarity": similarity}


def _grams(source: DocumentIndex, number: int, dropped: dict[int, Signature], spec: Dedup) -> np.ndarray:
    from lmspec.runtime.data.minhash import ngram_hashes

    if number in dropped:
        return dropped[number][1]
    return ngram_hashes(source.document(number)["text"], spec.ngram)


def _root(number: int, parent: dict[int, int], dropped: dict[int, Signature]) -> int:
    """Follow matches from a dropped document to a kept one (`UNMATCHED` for none, or a loop)."""
    seen = {number}
    while number in parent:
        number = parent[number]
        if number not in dropped:
            return number
        if number in seen:
            break
        seen.add(number)
    return UNMATCHED
