"""MinHash signatures and LSH banding for near-duplicate detection (Broder 1997; Leskovec et al., ch. 3)."""

from __future__ import annotations

import functools
import re
import zlib

import numpy as np

_WORD = re.compile(r"\w+")


def normalize(text: str) -> str:
    """Lowercased words joined by single spaces: what "the same text" means for exact dedup."""
    return " ".join(_WORD.findall(text.lower()))


@functools.cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Permutations x -> (a*x + b) mod 2**32 with a odd: bijections of the 32-bit space, applied to CRC-32
    shingle hashes that are already well mixed. In 32-bit arithmetic numpy computes them about 9x faster
    than the (a*x + b) mod (2**61 - 1) of 64-bit implementations."""
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 2**31, size=num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)).astype(np.uint32)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint32)
    return a, b


_MIX = np.uint32(0x9E3779B1)  # an odd multiplier (golden ratio) for combining word hashes into n-gram hashes


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """Sorted, distinct 32-bit hashes of the text's word n-grams: CRC-32 of each word, combined in numpy.

    Hashing words once and n-grams arithmetically costs a few microseconds per word, not tens; the same
    hashes serve the signature and the exact Jaccard check of candidate pairs.
    """
    words = _WORD.findall(text.lower())
    word_hashes = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint32, count=len(words))
    if len(word_hashes) < n:
        word_hashes = np.append(word_hashes, np.zeros(n - len(word_hashes), dtype=np.uint32))
    count = len(word_hashes) - n + 1
    hashes = word_hashes[:count].copy()
    for k in range(1, n):  # in place, modulo 2**32 (numpy's unsigned array arithmetic wraps without a warning)
        hashes *= _MIX
        hashes += word_hashes[k : k + count]
    return np.unique(hashes)


def signature(ngrams: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """The minimum of each of `num_perm` hash permutations over a text's word n-gram hashes (`ngram_hashes`)."""
    a, b = permutations(num_perm, seed)
    with np.errstate(over="ignore"):
        permuted = ngrams[:, None] * a[None, :] + b[None, :]
    result: np.ndarray = permuted.min(axis=0)
    return result


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted distinct hash arrays."""
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


def choose_bands(num_perm: int, threshold: float) -> tuple[int, int]:
    """(bands, rows) so that pairs at `threshold` become candidates with probability >= 0.995, with the fewest
    candidates well below it; every candidate is then checked on its true Jaccard similarity."""
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands < 0.995:
            continue
        false_positive = 1 - (1 - (threshold * 0.7) ** rows) ** bands
        if best is None or false_positive < best[0]:
            best = (false_positive, bands, rows)
    return (best[1], best[2]) if best else (num_perm, 1)
