"""Uncertainty and significance for evaluation results: stderrs, paired tests, multiple comparisons.

Two models scored on the same items differ by less than either one's stderr suggests, or more: the
items' difficulty is shared. So variants are compared item by item: McNemar's exact test for a 0/1
score (accuracy), a paired bootstrap otherwise (bits-per-byte, a ratio of sums over documents; mc2's
probabilities). Bootstraps resample items with replacement from a seeded generator, so a report is
reproducible. Many comparisons in one report are corrected with Holm's method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

STDERR_RESAMPLES = 1000
TEST_RESAMPLES = 10_000
CHUNK = 256
"""Resamples drawn at once: bounds memory at CHUNK x items indices."""
ALPHA = 0.05

Statistic = Callable[[np.ndarray], np.ndarray]
"""Column sums of each resample [resamples, columns] -> one value per resample."""


@dataclass(frozen=True)
class Difference:
    """A - B on the same items: the estimate, its stderr, a two-sided p-value, and how they were found."""

    value: float
    stderr: float
    p_value: float
    test: str
    items: int


def mean_stderr(values: Sequence[float]) -> float:
    """Standard error of a mean (sample standard deviation / sqrt(n)), as lm-eval reports it."""
    n = len(values)
    return float(np.std(np.asarray(values, dtype=float), ddof=1) / math.sqrt(n)) if n > 1 else math.nan


def bootstrap_sums(columns: Sequence[Sequence[float]], resamples: int, seed: int = 0) -> np.ndarray:
    """Column sums over `resamples` resamples of the items (rows of `columns`, transposed): [resamples, columns]."""
    data = np.asarray(columns, dtype=float).T
    rng = np.random.default_rng(seed)
    sums = []
    for start in range(0, resamples, CHUNK):
        picks = rng.integers(0, len(data), size=(min(CHUNK, resamples - start), len(data)))
        sums.append(data[picks].sum(axis=1))
    return np.concatenate(sums)


def bootstrap_stderr(
    columns: Sequence[Sequence[float]], statistic: Statistic, resamples: int = STDERR_RESAMPLES, seed: int = 0
) -> float:
    """Bootstrap standard error of a statistic of column sums (e.g. bits-per-byte = bits / bytes)."""
    if len(columns[0]) < 2:
        return math.nan
    return float(np.std(statistic(bootstrap_sums(columns, resamples, seed)), ddof=1))


def paired_bootstrap(
    columns: Sequence[Sequence[float]], difference: Statistic, resamples: int = TEST_RESAMPLES, seed: int = 0
) -> Difference:
    """A paired bootstrap test: `difference` maps column sums (A's and B's columns side by side, one row per
    shared item) to A - B. The p-value is the share of resampled differences at least as far from the
    observed one as the observed one is from zero (the resampling distribution shifted to the null)."""
    observed = float(difference(np.asarray(columns, dtype=float).sum(axis=1)[None, :])[0])
    resampled = difference(bootstrap_sums(columns, resamples, seed))
    extreme = int(np.sum(np.abs(resampled - observed) >= abs(observed)))
    return Difference(
        observed,
        float(np.std(resampled, ddof=1)),
        (1 + extreme) / (1 + resamples),
        "paired bootstrap",
        len(columns[0]),
    )


def mcnemar(a: Sequence[float], b: Sequence[float]) -> Difference:
    """McNemar's exact test for 0/1 scores of A and B on the same items: only the items they disagree on
    count, and under the null each disagreement favours A or B with probability 1/2."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a_only, b_only = int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1)))
    tail = sum(math.comb(a_only + b_only, k) for k in range(min(a_only, b_only) + 1)) / 2.0 ** (a_only + b_only)
    return Difference(float(np.mean(x - y)), mean_stderr(list(x - y)), min(1.0, 2.0 * tail), "McNemar exact", len(x))


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def compare_means(a: Sequence[float], b: Sequence[float]) -> Difference:
    """A - B of the mean per-item score: McNemar for 0/1 scores, a paired bootstrap otherwise."""
    if is_binary(a) and is_binary(b):
        return mcnemar(a, b)
    n = len(a)
    return paired_bootstrap([a, b], lambda sums: (sums[:, 0] - sums[:, 1]) / n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (in the input's order): the family-wise error stays at alpha
    however many comparisons a report makes, with more power than plain Bonferroni."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


DOCUMENT_SCORES = ("logprob", "bytes", "tokens")
"""What an evaluation keeps of each held-out document: log-probability (nats), UTF-8 bytes, tokens scored."""


def document_columns(items: dict[str, dict[str, float]]) -> list[list[float]]:
    """Per-document scores as DOCUMENT_SCORES columns, in item order."""
    return [[row[name] for row in items.values()] for name in DOCUMENT_SCORES]


def bits_per_byte(sums: np.ndarray) -> np.ndarray:
    """Bits per byte from sums of DOCUMENT_SCORES columns (one row per resample)."""
    return np.asarray(-sums[:, 0] / math.log(2) / sums[:, 1])


def perplexity(sums: np.ndarray) -> np.ndarray:
    """Perplexity per token from sums of DOCUMENT_SCORES columns (one row per resample)."""
    return np.asarray(np.exp(-sums[:, 0] / sums[:, 2]))
