"""A filter step, opened up: which input documents it kept and dropped, the rule that dropped each, and every
rule's score over the documents it saw, against its threshold.

`annotate` outputs hold all of it (each rule's score and verdict in `attributes`). A `filter` output holds
the kept documents with every rule's score; the dropped ones are found by walking the input beside the
output (`derived.aligned`) and scored again with the step's own rule code (`lmspec.runtime.data.rules`, a
library of checks with no executor in it), stopping at the first rule that fails, as the step did. The
recomputed per-rule counts are compared with the step's stats.json on the page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from lmspec.browser.context import Browser, NotFound
from lmspec.browser.derived import Arrays, aligned, cached_arrays
from lmspec.browser.documents import index_folder, output_index
from lmspec.catalog.store import ArtifactRecord
from lmspec.outputs.classifier import Classifier
from lmspec.outputs.documents import Documents
from lmspec.schemas.data import Filter
from lmspec.schemas.rules import ClassifierRule, FilterRule

Check = Callable[[str], tuple[bool, float, str]]
"""A built filter rule: text -> (keep, score, text after the rule)."""
KEPT = -1
UNKNOWN = -2
"""`dropped_by` of a document whose dropping rule cannot be scored here (a classifier given as a file path)."""
THRESHOLD_FIELDS = {
    "language": ("min_score",),
    "classifier": ("min_score",),
    "length": ("min_chars", "max_chars"),
    "compression_ratio": ("min", "max"),
    "gopher_quality": ("min_words", "max_words"),
    "gopher_repetition": ("max_duplicate_line_fraction",),
}
"""The fields of each rule kind that bound the score the rule writes (c4 and regex scores have none)."""


@dataclass(frozen=True)
class FilterView:
    """A filter step's verdicts over its input, with what is needed to show them."""

    spec: Filter
    source: Path
    output: Path
    kept_at: np.ndarray
    """Per input document: its number in the output, or -1 when dropped."""
    dropped_by: np.ndarray
    """Per input document: `KEPT`, the position of the rule that dropped it, or `UNKNOWN`."""
    scores: np.ndarray
    """(input documents, rules): each rule's score, NaN where the rule did not see the document."""
    thresholds: list[list[tuple[str, float]]]
    """Per rule: (field, value) of the bounds on its score."""

    def dropped(self, rule: int | None) -> np.ndarray:
        """Input numbers of the dropped documents (by `rule` only, when given), in input order."""
        mask = self.dropped_by != KEPT if rule is None else self.dropped_by == rule
        found: np.ndarray = np.flatnonzero(mask)
        return found

    def rule_counts(self) -> list[dict[str, int]]:
        """Per rule: documents seen, kept and dropped, as recomputed here."""
        counts = []
        for position in range(len(self.spec.rules)):
            seen = int(np.count_nonzero(~np.isnan(self.scores[:, position])))
            dropped = int(np.count_nonzero(self.dropped_by == position))
            counts.append({"seen": seen, "kept": seen - dropped, "dropped": dropped})
        return counts

    def recorded_counts(self) -> list[dict[str, int]] | None:
        """Per rule: the counts the step itself wrote into stats.json (None when it has none)."""
        try:
            rules = Documents(self.output).stats().rules
        except (OSError, ValueError):
            return None
        return [rules.get(f"{i}:{rule.kind}", {}) for i, rule in enumerate(self.spec.rules)]


def filter_view(browser: Browser, record: ArtifactRecord) -> FilterView:
    """The verdicts of a filter artifact, derived once and cached."""
    spec = Filter.model_validate(record.config)
    source = browser.local(_input_path(record, spec.input))
    output = browser.local(record.output_path)

    def compute() -> Arrays:
        return _verdicts(browser, record, spec, source, output)

    arrays = cached_arrays(index_folder(browser, output, "kept"), [source, output], compute)
    thresholds = [_thresholds(rule, float(arrays["thresholds"][i])) for i, rule in enumerate(spec.rules)]
    return FilterView(spec, source, output, arrays["kept_at"], arrays["dropped_by"], arrays["scores"], thresholds)


def attribute_names(rules: list[FilterRule]) -> list[str]:
    """The attribute each rule's score is written to: its kind, or `<kind>_<position>` for a kind used twice
    (the filter step's naming)."""
    kinds = Counter(rule.kind for rule in rules)
    return [rule.kind if kinds[rule.kind] == 1 else f"{rule.kind}_{i}" for i, rule in enumerate(rules)]


def _input_path(record: ArtifactRecord, reference: str) -> str:
    path = record.inputs.get(reference.removeprefix("@"))
    if path is None:
        raise NotFound(f"the catalog has no input `{reference}` for step `{record.step_name}`")
    return path


def _verdicts(browser: Browser, record: ArtifactRecord, spec: Filter, source: Path, output: Path) -> Arrays:
    names = attribute_names(spec.rules)
    source_index, output_index_ = output_index(browser, source), output_index(browser, output)
    total, rules = source_index.total, len(spec.rules)
    kept_at = np.full(total, -1, dtype=np.int64)
    dropped_by = np.full(total, KEPT, dtype=np.int16)
    scores = np.full((total, rules), np.nan, dtype=np.float32)
    dropped: list[tuple[int, str]] = []
    for number, doc, out_number, out_doc in aligned(source_index, output_index_):
        kept_at[number] = out_number
        if out_doc is None:
            dropped.append((number, doc["text"]))
            continue
        attributes = out_doc.get("attributes") or {}
        scores[number] = [_score(attributes.get(name)) for name in names]
        failed = [i for i, name in enumerate(names) if attributes.get(f"{name}_keep") is False]
        dropped_by[number] = failed[0] if failed else KEPT
    thresholds = _rescore(browser, record, spec, dropped, scores, dropped_by)
    return {"kept_at": kept_at, "dropped_by": dropped_by, "scores": scores, "thresholds": thresholds}


def _rescore(
    browser: Browser,
    record: ArtifactRecord,
    spec: Filter,
    dropped: list[tuple[int, str]],
    scores: np.ndarray,
    dropped_by: np.ndarray,
) -> np.ndarray:
    """Score the dropped documents rule by rule until one fails, as the step did (a rule may rewrite the text
    the next one sees); returns each rule's effective threshold (a `keep_fraction` percentile, else NaN)."""
    checks, effective = _checks(browser, record, spec, dropped, scores)
    for number, text in dropped:
        dropped_by[number] = UNKNOWN
        for position, check in enumerate(checks):
            if check is None:
                break
            keep, score, text = check(text)
            scores[number, position] = score
            if not keep:
                dropped_by[number] = position
                break
    return effective


def _checks(
    browser: Browser, record: ArtifactRecord, spec: Filter, dropped: list[tuple[int, str]], scores: np.ndarray
) -> tuple[list[Check | None], np.ndarray]:
    """Each rule's check as the step ran it (None for a classifier given as a file path, not known here),
    and each rule's effective threshold."""
    from lmspec.runtime.data.rules import ClassifierCheck, build

    effective = np.full(len(spec.rules), np.nan)
    checks: list[Check | None] = []
    for position, rule in enumerate(spec.rules):
        if not isinstance(rule, ClassifierRule):
            checks.append(build(rule))
            continue
        model = _classifier_file(browser, record, rule)
        check = ClassifierCheck(rule, str(model), rule.min_score) if model else None
        if check is not None and rule.keep_fraction is not None:
            seen = [s for s in scores[:, position].tolist() if s == s]  # the kept documents carry their score
            seen += [build(check)(text)[1] for _, text in dropped]
            threshold = np.quantile(np.array(seen), 1.0 - rule.keep_fraction, method="higher") if seen else 1.0
            check = replace(check, min_score=float(threshold))
            effective[position] = check.min_score
        checks.append(build(check) if check is not None else None)
    return checks, effective


def _classifier_file(browser: Browser, record: ArtifactRecord, rule: ClassifierRule) -> Path | None:
    """The model a classifier rule used, when it is a step of the catalog (a spec-relative path is not known)."""
    if not rule.model.startswith("@"):
        return None
    return Classifier(browser.local(_input_path(record, rule.model))).model_file


def _thresholds(rule: FilterRule, effective: float) -> list[tuple[str, float]]:
    if effective == effective:  # not NaN: a keep_fraction's percentile
        return [("min_score (from keep_fraction)", effective)]
    values = [(name, getattr(rule, name)) for name in THRESHOLD_FIELDS.get(rule.kind, ())]
    return [(name, float(value)) for name, value in values if value is not None and not isinstance(value, bool)]


def _score(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("nan")
