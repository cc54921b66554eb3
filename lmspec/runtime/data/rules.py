"""Filter rules on one document's text. Each check returns (keep, score, text): the score is kept as an
attribute, and the text is the document's text after the rule (only `c4` changes it).

`build(rule)` makes a rule's check from its validated spec model, dispatched on the model's type; a
classifier rule is built from its `ClassifierCheck`, which the filter step resolves first (the model
file its reference names, the threshold its `keep_fraction` implies). Defaults live in the spec schema
(lmspec/schemas/data.py) with their sources; this module only computes.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import singledispatch

from lmspec.schemas.rules import (
    C4Rule,
    ClassifierRule,
    CompressionRatioRule,
    GopherQualityRule,
    GopherRepetitionRule,
    LanguageRule,
    LengthRule,
    RegexRule,
)

GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})

Rule = Callable[[str], tuple[bool, float, str]]
Threshold = Callable[[float], bool]


@dataclass(frozen=True)
class ClassifierCheck:
    """A classifier rule as it runs: the model file its `model` names and the score a document needs (its
    `min_score`, or the percentile its `keep_fraction` asks for), which only the filter step can know."""

    rule: ClassifierRule
    model_file: str
    min_score: float

    @property
    def kind(self) -> str:
        return self.rule.kind


RunnableRule = (
    LanguageRule
    | ClassifierCheck
    | GopherQualityRule
    | GopherRepetitionRule
    | C4Rule
    | CompressionRatioRule
    | LengthRule
    | RegexRule
)
"""A filter rule ready to build: the spec's rule model, or for a classifier rule its `ClassifierCheck`."""


def attribute_names(kinds: Sequence[str]) -> list[str]:
    """The attribute each rule's score is written under, given the rules' kinds in order: the kind, or
    `<kind>_<position>` for a kind used twice. Users' data depends on these names: they must not change."""
    counts = Counter(kinds)
    return [kind if counts[kind] == 1 else f"{kind}_{position}" for position, kind in enumerate(kinds)]


def percentile_threshold(scores: Sequence[float], keep_fraction: float) -> float:
    """The score above which `keep_fraction` of the scored documents lie (1.0 when none was scored)."""
    import numpy as np

    if not scores:
        return 1.0
    return float(np.quantile(np.array(scores, dtype=np.float64), 1.0 - keep_fraction, method="higher"))


@singledispatch
def threshold(rule: RunnableRule) -> Threshold | None:
    """The verdict of a rule that only cuts its one score (the rule classes' `thresholds` fields), from the
    score alone; None for the others. A filter that selects from shared scores decides these rules from the
    recorded scores and reads the verdict its annotate step recorded for the rest."""
    return None


@threshold.register
def _ratio_within(rule: CompressionRatioRule) -> Threshold:
    return lambda ratio: rule.min <= ratio <= rule.max


@threshold.register
def _score_reaches(check: ClassifierCheck) -> Threshold:
    return lambda score: score >= check.min_score


@singledispatch
def build(rule: RunnableRule) -> Rule:
    """The check of `rule`, built once per shard task (loading models, compiling patterns)."""
    raise TypeError(
        f"no filter rule is built from a {type(rule).__name__}: a rule type needs a `@build.register` builder "
        "(a classifier rule is built from the ClassifierCheck the filter step resolves)"
    )


@build.register
def compression_ratio(rule: CompressionRatioRule) -> Rule:
    """zlib compressed size / raw size: very repetitive text scores low, random-looking text high."""
    within = _ratio_within(rule)

    def check(text: str) -> tuple[bool, float, str]:
        raw = text.encode("utf-8")
        ratio = len(zlib.compress(raw)) / len(raw) if raw else 0.0
        return within(ratio), ratio, text

    return check


_JOIN = (
    r"(?:\.(?![A-Z])|(?<![a-z])\.|(?<=[^\W\d_])-(?=\d)|[(\[=/:<>](?![^\W\d_])|[(\[]|,(?=\d)"
    r"|(?<![a-z0-9])[+*^]|[+*^](?!\d)|[#@%&|$]|_)"
)
"""What stays inside a word, as in spaCy's infix rules: `str.rstrip([chars`, `x.__get__(a`, `UTF-8`, `1,000`,
`U+0000`; not a hyphen before a letter (`well`, `-`, `known`), not `.` between a lower- and an upper-case
letter, not `,` or `=` before a letter."""

_TOKEN = re.compile(
    r"https?://\S+"  # URLs stay whole
    r"|(?:[^\W\d_]\.){2,}"  # abbreviations: e.g. i.e.
    r"|(?<![\w.])[^\W\d_]\.(?=\s|$)"  # a single letter and its period: "in y."
    r"|(?i:can)(?=not\b)"  # cannot -> can + not
    r"|[^\W_]+(?=n['\u2019]t\b)|(?<=[^\W_])n['\u2019]t\b"  # doesn't -> does + n't
    r"|(?<=[^\W_])['\u2019][^\W_]+"  # 's 're 've: contractions split off
    # words: from a letter or digit to the last one; the lookahead skips the joiners after most words at once
    r"|\\?[^\W_]+(?:(?=[.(\[=/:<>,+*^#@%&|$_\-])" + _JOIN + r"+[^\W_]+)*(?:-(?=\s))?"
    r"|''|-+|~+|\.\.\.|…|[^\w\s]|_"  # punctuation (dash and tilde runs as one); edge underscores alone
)
"""Words and punctuation marks as separate tokens, close to the spaCy tokenization the Gopher heuristics are
usually run with (DataTrove) at a small fraction of its cost: a word runs from its first letter or digit
to its last within a whitespace-separated chunk, and the characters spaCy strips as prefixes or suffixes
(quotes, brackets, edge underscores, trailing punctuation) are tokens of their own. `bench/gopher_minhash.py`
measures the agreement."""


_HAS_LETTER = re.compile(r"[^\W\d_]").search


@build.register
def gopher_quality(rule: GopherQualityRule) -> Rule:
    """The quality heuristics of Rae et al. (2021), Gopher, appendix A; the score is the word count.

    Word counts and mean word length are over word tokens (punctuation marks are tokens too, but not
    words); the ratios are over all tokens and all lines, and the stop-word test counts distinct stop
    words, as in the paper and in DataTrove's GopherQualityFilter.
    """

    def check(text: str) -> tuple[bool, float, str]:
        keep, words = passes(text)
        return keep, words, text

    def passes(text: str) -> tuple[bool, float]:
        tokens = _TOKEN.findall(text)
        words = [t for t in tokens if t[0].isalnum() or t[0] == "_" or (len(t) > 1 and t not in ("...",))]
        n = len(words)
        if not rule.min_words <= n <= rule.max_words or n == 0:  # no words: no mean length within bounds
            return False, n
        mean_length = sum(len(w) for w in words) / n
        if not rule.min_mean_word_length <= mean_length <= rule.max_mean_word_length:
            return False, n
        n_tokens = len(tokens)
        limit = rule.max_symbol_word_ratio
        if text.count("#") / n_tokens > limit or (text.count("...") + text.count("…")) / n_tokens > limit:
            return False, n
        lines = text.splitlines()
        if lines:
            bullets = sum(line.lstrip().startswith(("•", "-")) for line in lines)
            if bullets / len(lines) > rule.max_bullet_lines_ratio:
                return False, n
            ellipsis = sum(line.rstrip().endswith(("...", "…")) for line in lines)
            if ellipsis / len(lines) > rule.max_ellipsis_lines_ratio:
                return False, n
        alpha = len(list(filter(_HAS_LETTER, tokens)))
        if alpha / n_tokens < rule.min_alpha_words_ratio:
            return False, n
        return len(GOPHER_STOP_WORDS.intersection(tokens)) >= rule.min_stop_words, n

    return check


@build.register
def language(rule: LanguageRule) -> Rule:
    """fastText lid.176: keep documents whose top language is in `keep` with at least `min_score`."""
    from lmspec.runtime.data.fasttext_models import fasttext_line, lid176_path, load

    model = load(lid176_path())
    wanted = {f"__label__{code}" for code in rule.keep}

    def check(text: str) -> tuple[bool, float, str]:
        labels, scores = model.predict(fasttext_line(text), k=1)
        score = float(scores[0]) if labels else 0.0
        return bool(labels) and labels[0] in wanted and score >= rule.min_score, score, text

    return check


@build.register
def classifier(check: ClassifierCheck) -> Rule:
    """A trained quality classifier: the probability of the rule's `label` must reach `check.min_score`."""
    from lmspec.runtime.data.fasttext_models import fasttext_line, load

    model = load(check.model_file)
    label = f"__label__{check.rule.label}"
    reaches = _score_reaches(check)
    if label not in model.get_labels():
        from lmspec.outputs.documents import DataError

        raise DataError(
            f"the classifier at {check.model_file} has no label `{check.rule.label}` "
            f"(it has {', '.join(name.removeprefix('__label__') for name in model.get_labels())})"
        )

    def score(text: str) -> tuple[bool, float, str]:
        labels, scores = model.predict(fasttext_line(text), k=-1)
        value = next((float(s) for name, s in zip(labels, scores, strict=True) if name == label), 0.0)
        return reaches(value), value, text

    return score


@build.register
def gopher_repetition(rule: GopherRepetitionRule) -> Rule:
    """Gopher's repetition checks (Rae et al. 2021, table A1); the score is the duplicate-line fraction."""
    top = {int(n): limit for n, limit in rule.max_top_ngram_char_fraction.items()}
    duplicated = {int(n): limit for n, limit in rule.max_duplicate_ngram_char_fraction.items()}

    def check(text: str) -> tuple[bool, float, str]:
        lines = [line for line in text.split("\n") if line.strip()]
        paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p.strip()]
        line_fraction, line_chars = _duplicates(lines)
        if line_fraction > rule.max_duplicate_line_fraction or line_chars > rule.max_duplicate_line_char_fraction:
            return False, line_fraction, text
        para_fraction, para_chars = _duplicates(paragraphs)
        if (
            para_fraction > rule.max_duplicate_paragraph_fraction
            or para_chars > rule.max_duplicate_paragraph_char_fraction
        ):
            return False, line_fraction, text
        words = text.split()
        total = sum(len(w) for w in words) or 1
        for n, limit in sorted(top.items()):
            grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
            if grams:
                gram, count = grams.most_common(1)[0]
                if count > 1 and sum(len(w) for w in gram) * count / total > limit:
                    return False, line_fraction, text
        for n, limit in sorted(duplicated.items()):
            if _duplicate_ngram_chars(words, n) / total > limit:
                return False, line_fraction, text
        return True, line_fraction, text

    return check


def _duplicates(items: list[str]) -> tuple[float, float]:
    """(share of items that repeat an earlier one, share of characters in those repeats)."""
    if not items:
        return 0.0, 0.0
    seen: set[str] = set()
    repeats = repeated_chars = 0
    for item in items:
        if item in seen:
            repeats += 1
            repeated_chars += len(item)
        seen.add(item)
    return repeats / len(items), repeated_chars / max(1, sum(len(i) for i in items))


def _duplicate_ngram_chars(words: list[str], n: int) -> int:
    """Characters of the words covered by an n-gram seen earlier in the text (each word counted once)."""
    seen: set[tuple[str, ...]] = set()
    covered = [False] * len(words)
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        if gram in seen:
            for j in range(i, i + n):
                covered[j] = True
        seen.add(gram)
    return sum(len(w) for w, c in zip(words, covered, strict=True) if c)


_TERMINAL = (".", "!", "?", '"')
_POLICY = re.compile(r"terms of use|privacy policy|cookie policy|uses cookies|use of cookies", re.I)
_SENTENCE_END = re.compile(r"[.!?]+(\s|$)")


@build.register
def c4(rule: C4Rule) -> Rule:
    """C4's line and page cleaning (Raffel et al. 2020); the score is the share of lines kept."""

    def check(text: str) -> tuple[bool, float, str]:
        lowered = text.lower()
        if (rule.drop_lorem_ipsum and "lorem ipsum" in lowered) or (rule.drop_curly_braces and "{" in text):
            return False, 0.0, text
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        kept = [
            line
            for line in lines
            if len(line.split()) >= rule.min_words_per_line
            and (not rule.require_terminal_punctuation or line.endswith(_TERMINAL))
            and not (rule.drop_javascript_lines and "javascript" in line.lower())
            and not (rule.drop_policy_lines and _POLICY.search(line))
        ]
        cleaned = "\n".join(kept)
        share = len(kept) / len(lines) if lines else 0.0
        return len(_SENTENCE_END.findall(cleaned)) >= rule.min_sentences, share, cleaned

    return check


@build.register
def length(rule: LengthRule) -> Rule:
    """Bounds on characters and words; the score is the character count."""

    def check(text: str) -> tuple[bool, float, str]:
        chars, words = len(text), len(text.split())
        keep = (
            rule.min_chars <= chars
            and (rule.max_chars is None or chars <= rule.max_chars)
            and rule.min_words <= words
            and (rule.max_words is None or words <= rule.max_words)
        )
        return keep, chars, text

    return check


@build.register
def regex(rule: RegexRule) -> Rule:
    """Drop (or keep only) documents matching `pattern`; the score is 1 for a match, else 0."""
    pattern = re.compile(rule.pattern, re.IGNORECASE if rule.ignore_case else 0)

    def check(text: str) -> tuple[bool, float, str]:
        matched = pattern.search(text) is not None
        return matched == rule.keep_matching, float(matched), text

    return check
