"""Threshold sweeps share one scoring pass: the rewrite of a `[sweep]` that only moves a filter's cuts.

When every sweep axis that changes a filter step sets a rule's threshold (`max`, `min`, `min_score`,
`keep_fraction`: the fields a rule class lists as its `thresholds`, cuts on the rule's one score), the
points differ only in where they cut the same scores. The plan then gets one `<step>_scores` step, an
annotate filter of the same input and rules with the swept thresholds left at their defaults (so its hash
does not depend on them), and each point selects from it (`scores = "@<step>_scores"`, execution-only): it
reads the recorded scores instead of computing them, and writes what it would have written by scoring.
Each point keeps its name, config and hash, so cached outputs of earlier runs stay valid.

Not shared: filters with a rule that rewrites text (`c4`: the annotate step records scores of the text as
it was), in annotate mode, with any other field swept, or whose input is swept too.
"""

from __future__ import annotations

import copy
import typing
from typing import Any

from lmspec.compiler.source_map import DataPath, SourceMap
from lmspec.schemas.data import Filter
from lmspec.schemas.kinds import kind_name
from lmspec.schemas.rules import FilterRule

FILTER = kind_name(Filter)
SCORING = "annotate"
"""The mode of the shared scoring step: every rule scores every document, which the points then cut."""
SELECTING = Filter.model_fields["mode"].default
"""The mode of a filter whose sweep can share its scoring: the default one, that keeps or drops."""
SCORES_SUFFIX = "_scores"
HAND_WRITTEN = "is set by `lmspec compile` on the points of a sweep over this filter's thresholds; remove it"


def _rule_classes() -> dict[str, type[Any]]:
    """Rule kind -> its schema class, from the filter rule union."""
    union = typing.get_args(FilterRule)[0]
    return {typing.get_args(cls.model_fields["kind"].annotation)[0]: cls for cls in typing.get_args(union)}


RULES = _rule_classes()


def hand_written_scores(data: dict[str, Any]) -> list[tuple[DataPath, str]]:
    """A filter's `scores` written in the spec: it skips scoring unchecked, so only the compiler sets it."""
    steps = data.get("steps")
    if not isinstance(steps, dict):
        return []
    return [
        (("steps", name, "scores"), HAND_WRITTEN)
        for name, step in steps.items()
        if isinstance(step, dict) and step.get("kind") == FILTER and "scores" in step
    ]


def share_scoring(
    original: dict[str, Any],
    expanded: dict[str, Any],
    copies: dict[str, list[str]],
    swept: dict[str, list[DataPath]],
    source_map: SourceMap,
) -> None:
    """Rewrite `expanded` (the swept steps) in place: a scoring step before the points of each filter whose
    sweep axes only move thresholds. `copies`: each original step's names in `expanded`; `swept`: for steps
    changed by their own axes alone, the swept field paths inside the step."""
    scorers: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, fields in swept.items():
        scorer = name + SCORES_SUFFIX
        if _shareable(original[name], fields) and scorer not in original and scorer not in expanded:
            scorers[copies[name][0]] = (scorer, _scoring_step(original[name], fields))
            source_map.copy_subtree(("steps", name), ("steps", scorer))
            for point in copies[name]:
                expanded[point]["scores"] = "@" + scorer
    ordered: dict[str, Any] = {}
    for name, step in expanded.items():
        if name in scorers:  # the scoring step just before the first point, where a reader looks for it
            scorer, table = scorers[name]
            ordered[scorer] = table
        ordered[name] = step
    expanded.clear()
    expanded.update(ordered)


def _shareable(step: Any, fields: list[DataPath]) -> bool:
    """A filter in filter mode whose rules rewrite no text, with only rule thresholds swept."""
    if not isinstance(step, dict) or step.get("kind") != FILTER or step.get("mode", SELECTING) != SELECTING:
        return False
    rules = step.get("rules")
    if "scores" in step or not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        return False
    if any(getattr(RULES.get(str(rule.get("kind"))), "rewrites_text", False) for rule in rules):
        return False
    return all(_is_threshold(rules, field) for field in fields)


def _is_threshold(rules: list[dict[str, Any]], field: DataPath) -> bool:
    if len(field) != 3 or field[0] != "rules" or not isinstance(field[1], int) or field[1] >= len(rules):
        return False
    rule = RULES.get(str(rules[field[1]].get("kind")))
    return field[2] in getattr(rule, "thresholds", ())


def _scoring_step(step: dict[str, Any], fields: list[DataPath]) -> dict[str, Any]:
    """The filter in annotate mode with the swept thresholds at their defaults: every point's scores, once."""
    table = copy.deepcopy(step)
    table["mode"] = SCORING
    for _, index, name in fields:
        table["rules"][index].pop(name, None)
    return table
