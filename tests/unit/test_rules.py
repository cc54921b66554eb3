"""Filter rules on hand-made texts whose verdicts are known from the rules' definitions."""

from __future__ import annotations

from typing import Any

import pytest

from lmspec.runtime.data.rules import build
from lmspec.schemas.data import Filter

PROSE = (
    "The committee met on Tuesday to review the proposal, and after a long discussion that covered the budget, "
    "the schedule and the risks, they agreed with the plan to have the work start in the spring. Several members "
    "asked that the report be shared with the public as soon as possible, so that residents of the town could see "
    "what had been decided and why."
)


def rule(kind: str, **fields: Any) -> Any:
    """The rule's check, built from its validated spec model (so the schema's defaults apply)."""
    spec = Filter.model_validate({"kind": "filter", "input": "@x", "rules": [{"kind": kind, **fields}]})
    return build(spec.rules[0])


def test_gopher_quality_keeps_prose_and_drops_what_each_heuristic_targets() -> None:
    check = rule("gopher_quality")
    assert check(PROSE)[:2] == (True, 65)
    assert not check("too few words here")[0]
    assert not check("# " * 30 + PROSE)[0]  # symbol to word ratio
    assert not check(" ".join(["a1"] * 80))[0]  # mean word length < 3
    assert not check("\n".join(f"- item {i} with some words" for i in range(30)))[0]  # bullets, no stop words
    assert not check(" ".join(["zzzz"] * 60))[0]  # no stop words


def test_gopher_quality_drops_a_text_without_words_even_when_no_words_are_required() -> None:
    check = rule("gopher_quality", min_words=0, min_stop_words=0)
    assert check("")[:2] == (False, 0)
    assert check("! ? .")[:2] == (False, 0)  # punctuation tokens, no words


def test_a_classifier_rule_is_built_only_once_resolved() -> None:
    """The filter step gives a classifier rule its model file and threshold (`ClassifierCheck`) first."""
    with pytest.raises(TypeError, match="ClassifierCheck"):
        rule("classifier", model="@quality")


def test_gopher_repetition_drops_repeated_lines_and_ngrams() -> None:
    check = rule("gopher_repetition")
    assert check(PROSE)[0]
    repeated_lines = "\n".join(["the same line again and again"] * 5 + [PROSE])
    keep, score, _ = check(repeated_lines)
    assert not keep
    assert score == pytest.approx(4 / 6)
    assert not check(PROSE + " " + "spam and eggs " * 20)[0]  # a dominant 2-gram / duplicated 5-grams


def test_c4_cleans_lines_and_drops_short_pages() -> None:
    check = rule("c4")
    page = "\n".join(
        [
            "Home | About | Contact",
            "Please enable JavaScript to view this page.",
            *(f"This is sentence number {i} of the article." for i in range(6)),
            "Read our privacy policy for more.",
        ]
    )
    keep, share, cleaned = check(page)
    assert keep
    assert cleaned.splitlines() == [f"This is sentence number {i} of the article." for i in range(6)]
    assert share == pytest.approx(6 / 9)
    assert not check("Only two sentences. Not enough.")[0]
    assert not check(page + "\nfunction f() { return 1; }")[0]
    assert not check(page + "\nLorem ipsum dolor sit amet.")[0]


def test_length_regex_and_compression_ratio() -> None:
    assert rule("length", min_words=3, max_chars=20)("one two three")[:2] == (True, 13)
    assert not rule("length", min_words=3)("one two")[0]
    assert not rule("regex", pattern="casino")("best casino bonus")[0]
    assert rule("regex", pattern="CASINO", ignore_case=True, keep_matching=True)("best casino bonus")[0]
    keep, ratio, _ = rule("compression_ratio", min=0.2, max=0.9)("abc " * 200)
    assert not keep
    assert ratio < 0.05


def test_invalid_regex_is_a_spec_error_at_the_pattern() -> None:
    spec = Filter.model_validate({"kind": "filter", "input": "@x", "rules": [{"kind": "regex", "pattern": "(a"}]})
    [(path, message)] = spec.cross_field_errors()
    assert path == ("rules", 0, "pattern")
    assert "not a valid regular expression" in message


def test_gopher_tokens_follow_spacy_where_it_changes_the_counts() -> None:
    """The expected tokens are spaCy's own output (DataTrove's English word tokenizer) for these texts."""
    from lmspec.runtime.data.rules import _TOKEN

    text = "Don't stop... e.g. it cannot fail -- see len(s) or obj.__mro__ at https://x.org/a.b ~~~~"
    spacy = "Do n't stop ... e.g. it can not fail -- see len(s ) or obj.__mro _ _ at https://x.org/a.b ~~~~"
    assert _TOKEN.findall(text) == spacy.split(" ")
    code = (
        'It isn\u2019t the "__dict__" of str.rstrip([chars]); call fromkeys() in UTF-8, a decimal- point, '
        "x.__get__(a) and well-known 1,000 items, y. Python's 3.8:"
    )
    spacy = (
        'It is n\u2019t the " _ _ dict _ _ " of str.rstrip([chars ] ) ; call fromkeys ( ) in UTF-8 , a decimal- '
        "point , x.__get__(a ) and well - known 1,000 items , y. Python 's 3.8 :"
    )
    assert _TOKEN.findall(code) == spacy.split(" ")


def test_attribute_names_and_keep_fraction_threshold() -> None:
    from lmspec.runtime.data.rules import attribute_names, percentile_threshold

    assert attribute_names(["length", "regex", "regex"]) == ["length", "regex_1", "regex_2"]
    scores = [float(s) for s in range(10)]
    assert percentile_threshold(scores, 0.2) == 8.0  # keeps 8 and 9: the top 20%
    assert percentile_threshold([], 0.2) == 1.0
