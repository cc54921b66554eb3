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


def language(rule: dict[str, Any]) -> Rule:
    """fastText lid.176: keep documents whose top language is in `keep` with at least `min_score`."""
    from lmspec.runtime.data.fasttext_models import fasttext_line, lid176_path, load

    model = load(lid176_path())
    wanted = {f"__label__{code}" for code in rule["keep"]}

    def check(text: str) -> tuple[bool, float]:
        labels, scores = model.predict(fasttext_line(text), k=1)
        score = float(scores[0]) if labels else 0.0
        return bool(labels) and labels[0] in wanted and score >= rule["min_score"], score

    return check


def classifier(rule: dict[str, Any]) -> Rule:
    """A trained quality classifier: the probability of `label` must reach `min_score`.

    `rule["model_path"]` is the classifier step's model.bin, filled in by the filter step.
    """
    from lmspec.runtime.data.fasttext_models import fasttext_line, load

    model = load(rule["model_path"])
    label = f"__label__{rule['label']}"
    if label not in model.get_labels():
        from lmspec.runtime.data.documents import DataError

        raise DataError(
            f"the classifier at {rule['model_path']} has no label `{rule['label']}` "
            f"(it has {', '.join(name.removeprefix('__label__') for name in model.get_labels())})"
        )

    def check(text: str) -> tuple[bool, float]:
        labels, scores = model.predict(fasttext_line(text), k=-1)
        score = next((float(s) for name, s in zip(labels, scores, strict=True) if name == label), 0.0)
        return score >= rule["min_score"], score

    return check


BUILDERS: dict[str, Callable[[dict[str, Any]], Rule]] = {
    "compression_ratio": compression_ratio,
    "gopher_quality": gopher_quality,
    "language": language,
    "classifier": classifier,
}
"""Rule kind -> a function building the rule's check from its config (once per shard task)."""
