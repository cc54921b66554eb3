"""Filter rules on one document's text. Each returns (keep, score), the score kept as an attribute.

Defaults live in the spec schema (lmspec/schemas/data.py) with their sources; this module only computes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("•", "-", "*", "·", "‣", "◦")

Rule = Callable[[str], tuple[bool, float]]


def compression_ratio(rule: dict[str, Any]) -> Rule:
    """zlib compressed size / raw size: very repetitive text scores low, random-looking text high."""
    low, high = rule["min"], rule["max"]

    def check(text: str) -> tuple[bool, float]:
        raw = text.encode("utf-8")
        ratio = len(zlib.compress(raw)) / len(raw) if raw else 0.0
        return low <= ratio <= high, ratio

    return check


def gopher_quality(rule: dict[str, Any]) -> Rule:
    """The quality heuristics of Rae et al. (2021), Gopher, appendix A; the score is the word count."""

    def check(text: str) -> tuple[bool, float]:
        words = text.split()
        n = len(words)
        if not rule["min_words"] <= n <= rule["max_words"]:
            return False, n
        mean_length = sum(len(w) for w in words) / n
        if not rule["min_mean_word_length"] <= mean_length <= rule["max_mean_word_length"]:
            return False, n
        symbols = text.count("#") + text.count("...") + text.count("…")
        if symbols / n > rule["max_symbol_word_ratio"]:
            return False, n
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            bullets = sum(line.lstrip().startswith(BULLETS) for line in lines)
            if bullets / len(lines) > rule["max_bullet_lines_ratio"]:
                return False, n
            ellipsis = sum(line.rstrip().endswith(("...", "…")) for line in lines)
            if ellipsis / len(lines) > rule["max_ellipsis_lines_ratio"]:
                return False, n
        alpha = sum(any(c.isalpha() for c in w) for w in words)
        if alpha / n < rule["min_alpha_words_ratio"]:
            return False, n
        stop = sum(w.lower() in GOPHER_STOP_WORDS for w in words)
        return stop >= rule["min_stop_words"], n

    return check


BUILDERS: dict[str, Callable[[dict[str, Any]], Rule]] = {
    "compression_ratio": compression_ratio,
    "gopher_quality": gopher_quality,
}
"""Rule kinds this lmspec computes; `language` and `classifier` need the fastText models of their own steps."""
