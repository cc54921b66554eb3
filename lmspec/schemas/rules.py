"""Filter rules: what a `filter` step checks each document for, and where a rule's thresholds are.

Defaults are the papers' (Gopher, C4); the computations are `lmspec.runtime.data.rules`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints

from lmspec.schemas.base import ClassifierRefOrPath, Problems, SpecModel

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class LanguageRule(SpecModel):
    """Keep documents whose detected language (fastText lid.176) is one of `keep`."""

    kind: Literal["language"]
    keep: list[LanguageCode] = Field(min_length=1)
    """ISO 639 codes to keep, e.g. `["en"]`."""
    min_score: Fraction = 0.65
    """Minimum language-ID confidence."""


class ClassifierRule(SpecModel):
    """Keep documents that a trained classifier scores at least `min_score` for `label`, or the top
    `keep_fraction` by that score of the documents that reach this rule (those that passed the rules before
    it; the threshold is then the score's percentile among them)."""

    kind: Literal["classifier"]
    thresholds: ClassVar[tuple[str, ...]] = ("min_score", "keep_fraction")
    """Fields that only set where the verdict cuts the rule's one score: a sweep over them shares the scoring."""

    model: ClassifierRefOrPath
    """A train_classifier step (`"@name"`), or a fastText model file (relative to the spec file)."""
    label: str = "hq"
    """The label whose probability is compared with `min_score`."""
    min_score: Fraction = 0.5
    """Minimum probability of `label` (ignored when `keep_fraction` is set)."""
    keep_fraction: float | None = Field(default=None, gt=0.0, le=1.0)
    """Keep this share of the documents reaching this rule, highest scores first (e.g. 0.1 for the top 10%);
    None uses `min_score`."""

    def identity_extra(self) -> dict[str, Any]:
        # keep_fraction once took its share of the step's whole input; outputs made that way are not reused
        return {"keep_fraction_of": "documents reaching the rule"} if self.keep_fraction is not None else {}

    def cross_field_errors(self) -> Problems:
        if self.keep_fraction is not None and "min_score" in self.model_fields_set:
            return [(("min_score",), "set either min_score or keep_fraction, not both")]
        return []


class GopherQualityRule(SpecModel):
    """The Gopher (Rae et al., 2021) quality heuristics; defaults are the paper's."""

    kind: Literal["gopher_quality"]
    min_words: int = Field(default=50, ge=0)
    """Minimum number of words."""
    max_words: int = Field(default=100_000, ge=1)
    """Maximum number of words."""
    min_mean_word_length: float = Field(default=3.0, ge=0.0)
    """Minimum mean word length, in characters."""
    max_mean_word_length: float = Field(default=10.0, gt=0.0)
    """Maximum mean word length, in characters."""
    max_symbol_word_ratio: Fraction = 0.1
    """Maximum ratio of `#` and `...` to words."""
    max_bullet_lines_ratio: Fraction = 0.9
    """Maximum share of lines that start with a bullet (`•` or `-`)."""
    max_ellipsis_lines_ratio: Fraction = 0.3
    """Maximum share of lines that end with an ellipsis."""
    min_alpha_words_ratio: Fraction = 0.8
    """Minimum share of tokens (words and punctuation marks) that contain an alphabetic character."""
    min_stop_words: int = Field(default=2, ge=0)
    """Minimum number of distinct English stop words present (the, be, to, of, and, that, have, with)."""

    def cross_field_errors(self) -> Problems:
        problems: Problems = []
        if self.min_words >= self.max_words:
            problems.append((("min_words",), f"must be less than max_words ({self.max_words}), got {self.min_words}"))
        if self.min_mean_word_length >= self.max_mean_word_length:
            problems.append(
                (("min_mean_word_length",), f"must be less than max_mean_word_length ({self.max_mean_word_length})")
            )
        return problems


class CompressionRatioRule(SpecModel):
    """Keep documents whose zlib compressed/raw size ratio lies in [min, max]; catches repetition and noise."""

    kind: Literal["compression_ratio"]
    thresholds: ClassVar[tuple[str, ...]] = ("min", "max")
    """Fields that only set where the verdict cuts the rule's one score: a sweep over them shares the scoring."""

    min: Fraction = 0.0
    """Lowest ratio kept (very repetitive text compresses to a small ratio)."""
    max: Fraction = 1.0
    """Highest ratio kept (random or binary-like text barely compresses)."""

    def cross_field_errors(self) -> Problems:
        if self.min >= self.max:
            return [(("min",), f"must be less than max ({self.max}), got {self.min}")]
        return []


class GopherRepetitionRule(SpecModel):
    """Gopher's repetition removal (Rae et al. 2021, table A1): duplicated lines, paragraphs and n-grams."""

    kind: Literal["gopher_repetition"]
    max_duplicate_line_fraction: Fraction = 0.30
    """Maximum share of lines that repeat an earlier line."""
    max_duplicate_paragraph_fraction: Fraction = 0.30
    """Maximum share of paragraphs that repeat an earlier paragraph."""
    max_duplicate_line_char_fraction: Fraction = 0.20
    """Maximum share of characters in repeated lines."""
    max_duplicate_paragraph_char_fraction: Fraction = 0.20
    """Maximum share of characters in repeated paragraphs."""
    max_top_ngram_char_fraction: dict[str, Fraction] = Field(default_factory=lambda: {"2": 0.20, "3": 0.18, "4": 0.16})
    """n -> maximum share of characters covered by the most frequent word n-gram."""
    max_duplicate_ngram_char_fraction: dict[str, Fraction] = Field(
        default_factory=lambda: {"5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.10}
    )
    """n -> maximum share of characters covered by word n-grams that occur more than once."""


class C4Rule(SpecModel):
    """C4's cleaning (Raffel et al. 2020, section 2.2): drops bad lines, then pages left too short.

    In `filter` mode the kept text is the cleaned text; in `annotate` mode the text is left as it was.
    """

    kind: Literal["c4"]
    rewrites_text: ClassVar[bool] = True
    """Later rules see the cleaned text, which an annotate step does not keep: sweeps do not share its scoring."""
    min_words_per_line: int = Field(default=3, ge=0)
    """Lines with fewer words are removed."""
    min_sentences: int = Field(default=5, ge=0)
    """Pages with fewer sentences left are dropped."""
    require_terminal_punctuation: bool = True
    """Keep only lines that end in `.`, `!`, `?` or `"`."""
    drop_javascript_lines: bool = True
    """Remove lines mentioning javascript (notices like "please enable JavaScript")."""
    drop_lorem_ipsum: bool = True
    """Drop pages containing "lorem ipsum" (placeholder text)."""
    drop_curly_braces: bool = True
    """Drop pages containing `{` (code rather than prose)."""
    drop_policy_lines: bool = True
    """Remove lines about terms of use, privacy and cookie policies."""


class LengthRule(SpecModel):
    """Keep documents whose length lies within bounds (characters and words)."""

    kind: Literal["length"]
    min_chars: int = Field(default=0, ge=0)
    """Fewest characters kept."""
    max_chars: int | None = Field(default=None, ge=1)
    """Most characters kept; None for no limit."""
    min_words: int = Field(default=0, ge=0)
    """Fewest whitespace-separated words kept."""
    max_words: int | None = Field(default=None, ge=1)
    """Most words kept; None for no limit."""

    def cross_field_errors(self) -> Problems:
        problems: Problems = []
        if self.max_chars is not None and self.min_chars > self.max_chars:
            problems.append((("min_chars",), f"must be at most max_chars ({self.max_chars}), got {self.min_chars}"))
        if self.max_words is not None and self.min_words > self.max_words:
            problems.append((("min_words",), f"must be at most max_words ({self.max_words}), got {self.min_words}"))
        return problems


class RegexRule(SpecModel):
    """Drop documents that match a regular expression (or, with `keep_matching`, those that do not)."""

    kind: Literal["regex"]
    pattern: str = Field(min_length=1)
    """A Python regular expression, searched anywhere in the text."""
    keep_matching: bool = False
    """Keep only the documents that match, instead of dropping them."""
    ignore_case: bool = False
    """Match without regard to case."""

    def cross_field_errors(self) -> Problems:
        import re

        try:
            re.compile(self.pattern)
        except re.error as exc:
            return [(("pattern",), f"is not a valid regular expression: {exc}")]
        return []


FilterRule = Annotated[
    LanguageRule
    | ClassifierRule
    | GopherQualityRule
    | GopherRepetitionRule
    | C4Rule
    | CompressionRatioRule
    | LengthRule
    | RegexRule,
    Field(discriminator="kind"),
]
