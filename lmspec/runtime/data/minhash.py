"""MinHash signatures and LSH banding for near-duplicate detection (Broder 1997; Leskovec et al., ch. 3)."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)
_WORD = re.compile(r"\w+")


def normalize(text: str) -> str:
    """Lowercased words joined by single spaces: what "the same text" means for exact dedup."""
    return " ".join(_WORD.findall(text.lower()))


def shingles(text: str, n: int) -> set[str]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, int(MERSENNE_PRIME), size=num_perm, dtype=np.uint64)
    b = rng.integers(0, int(MERSENNE_PRIME), size=num_perm, dtype=np.uint64)
    return a, b


def signature(text: str, ngram: int, num_perm: int, seed: int) -> np.ndarray:
    """The minimum of each of `num_perm` universal hash permutations over the text's word shingles."""
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little") for s in shingles(text, ngram)),
        dtype=np.uint64,
    )
    a, b = permutations(num_perm, seed)
    with np.errstate(over="ignore"):
        permuted = ((hashes[:, None] * a[None, :] + b[None, :]) % MERSENNE_PRIME) & MAX_HASH
    result: np.ndarray = permuted.min(axis=0).astype(np.uint32)
    return result


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


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[str]:
    return [f"{i}:{sig[i * rows : (i + 1) * rows].tobytes().hex()}" for i in range(bands)]
