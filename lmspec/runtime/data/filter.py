"""`filter`: keep the documents that pass every rule, in order; each rule's score lands in `attributes`.

With `mode = "annotate"` every document is kept unchanged, with each rule's score and verdict
(`<kind>_keep`) and the overall verdict (`keep`) in `attributes`.

A `keep_fraction` keeps that share of the documents that reach its rule (those that pass the rules before
it): its threshold is the percentile of their scores, found by one pass over the input per such rule.

A filter whose `scores` names a shared annotate step (set by `lmspec compile` on the points of a sweep over
its thresholds) scores nothing: it reads each rule's score, and the verdicts of rules that are not a cut on
their score, from that step's documents, and writes exactly what scoring would have written.

One input shard becomes one output shard (same index), so the output order is stable; its stats
count, per rule, how many documents it saw, kept and dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lmspec.outputs.classifier import Classifier
from lmspec.outputs.documents import (
    DataError,
    Document,
    Documents,
    DocumentStats,
    OnError,
    each_document,
    read_documents,
    rewrite_shard,
    shard_paths,
)
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.data.rules import (
    ClassifierCheck,
    RunnableRule,
    attribute_names,
    build,
    percentile_threshold,
    threshold,
)
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Filter
from lmspec.schemas.rules import ClassifierRule, FilterRule

Judge = Callable[[str, dict[str, Any]], tuple[bool, float, str]]
"""A rule's (keep, score, text) for a document's text, given the attributes its shared scoring recorded."""


@dataclass(frozen=True)
class FilterTask:
    """One input shard through every rule into one output shard (a Beam element)."""

    source: Path
    target: Path
    scored: Path | None
    """The shared annotate step's shard to read scores from; None scores here."""
    rules: tuple[RunnableRule, ...]
    annotate: bool
    on_error: OnError


@dataclass(frozen=True)
class ReachTask:
    """One input shard: the score of `rules[position]` for each document that passes the rules before it,
    the population a `keep_fraction` is a share of (a Beam element)."""

    source: Path
    scored: Path | None
    rules: tuple[RunnableRule, ...]
    position: int
    on_error: OnError


@executes(Filter)
def filter_documents(ctx: StepContext[Filter]) -> StepResult:
    spec = ctx.spec
    inputs = ctx.input(spec.input, Documents).shards()
    scored = _scored_shards(ctx, len(inputs))
    started = time.time()
    rules = _resolve(ctx, inputs, scored)
    targets = shard_paths(ctx.output_dir, len(inputs), spec.compression)
    annotate = spec.mode == "annotate"
    tasks = [
        FilterTask(source, target, shard_scores, rules, annotate, spec.on_error)
        for source, target, shard_scores in zip(inputs, targets, scored, strict=True)
    ]
    results = run_shard_tasks(tasks, filter_shard, ctx.output_dir, spec.runner, spec.workers)
    return step_stats.finish(ctx.output_dir, results, started)


def _scored_shards(ctx: StepContext[Filter], count: int) -> list[Path | None]:
    """The shared scoring step's shards, one per input shard (it is an annotate filter of the same input)."""
    if ctx.spec.scores is None:
        return [None] * count
    shards: list[Path | None] = list(ctx.input(ctx.spec.scores, Documents).shards())
    if len(shards) != count:
        raise DataError(
            f"{ctx.spec.scores} has {len(shards)} shards for {count} input shards: it is not an annotate filter "
            f"of {ctx.spec.input}; run `lmspec run --force {ctx.spec.scores[1:]}`"
        )
    return shards


def _resolve(ctx: StepContext[Filter], inputs: list[Path], scored: list[Path | None]) -> tuple[RunnableRule, ...]:
    """Each rule as shard tasks run it: a classifier rule gets its model file and its threshold, a
    `keep_fraction` the percentile of the scores of the documents reaching it (one pass per such rule, in
    order, since an earlier one decides who reaches a later one)."""
    spec = ctx.spec
    rules = [_runnable(rule, ctx) for rule in spec.rules]
    for position, rule in enumerate(spec.rules):
        if not isinstance(rule, ClassifierRule) or rule.keep_fraction is None:
            continue
        tasks = [
            ReachTask(source, shard_scores, tuple(rules), position, spec.on_error)
            for source, shard_scores in zip(inputs, scored, strict=True)
        ]
        results = run_shard_tasks(tasks, reaching_scores, ctx.output_dir, spec.runner, spec.workers)
        reached = [score for shard_scores in results for score in shard_scores]
        cut = percentile_threshold(reached, rule.keep_fraction)
        ctx.log.info(
            "keep_fraction %s of %d documents reaching rule %d: min_score %.6f",
            rule.keep_fraction,
            len(reached),
            position,
            cut,
        )
        rules[position] = replace(_check(rule, ctx), min_score=cut)
    return tuple(rules)


def _runnable(rule: FilterRule, ctx: StepContext[Filter]) -> RunnableRule:
    """A classifier rule runs as its `ClassifierCheck`; the others as written."""
    return _check(rule, ctx) if isinstance(rule, ClassifierRule) else rule


def _check(rule: ClassifierRule, ctx: StepContext[Filter]) -> ClassifierCheck:
    """A classifier rule with the model file its reference names, cut at its `min_score`."""
    return ClassifierCheck(rule, str(ctx.input_or_path(rule.model, Classifier).model_file), rule.min_score)


def _judges(rules: tuple[RunnableRule, ...], selecting: bool, upto: int) -> list[tuple[str, str, Judge]]:
    """(stats name, attribute, judge) of the first `upto` rules; attribute names come from all of them."""
    attributes = attribute_names([rule.kind for rule in rules])
    return [
        (f"{i}:{rule.kind}", attribute, _recorded(rule, attribute) if selecting else _scoring(rule))
        for i, (rule, attribute) in enumerate(zip(rules[:upto], attributes, strict=False))
    ]


def _scoring(rule: RunnableRule) -> Judge:
    check = build(rule)
    return lambda text, _: check(text)


def _recorded(rule: RunnableRule, attribute: str) -> Judge:
    """The rule decided from what the shared annotate step recorded: its score, cut at this filter's
    threshold, or (for rules that are no cut on one score) the verdict recorded beside it."""
    cut = threshold(rule)

    def judge(text: str, recorded: dict[str, Any]) -> tuple[bool, float, str]:
        score = recorded[attribute]
        return (cut(score) if cut is not None else bool(recorded[f"{attribute}_keep"])), score, text

    return judge


class ScoredShard:
    """The shared scoring step's shard beside an input shard: the attributes recorded for each document, in
    order (a document the scoring step skipped because a rule failed on it has none, and fails here too)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._documents: Iterator[Document] = read_documents(path) if path is not None else iter(())
        self._next = next(self._documents, None)

    def attributes(self, doc: Document) -> dict[str, Any]:
        if self.path is None:
            return {}
        found = self._next
        if found is None or found["id"] != doc["id"] or found["text"] != doc["text"]:
            raise DataError(f"document `{doc['id']}` has no scores in {self.path} (a rule failed on it there)")
        self._next = next(self._documents, None)
        return found["attributes"]


def reaching_scores(task: ReachTask) -> list[float]:
    """The score of `rules[position]` of each document of a shard that passes the rules before it."""
    scored = ScoredShard(task.scored)
    judges = _judges(task.rules, task.scored is not None, task.position + 1)

    def reach(_: int, doc: Document) -> float | None:
        recorded, text = scored.attributes(doc), doc["text"]
        for _name, _attribute, judge in judges[:-1]:
            keep, _score, text = judge(text, recorded)
            if not keep:
                return None
        return judges[-1][2](text, recorded)[1]

    found = each_document(task.source, task.on_error, DocumentStats(), reach)
    return [score for score in found if score is not None]


def filter_shard(task: FilterTask) -> DocumentStats:
    scored = ScoredShard(task.scored)
    judges = _judges(task.rules, task.scored is not None, len(task.rules))
    per_rule = {name: {"seen": 0, "kept": 0, "dropped": 0} for name, _, _ in judges}

    def rewrite(_: int, doc: Document) -> Document | None:
        recorded = scored.attributes(doc)
        keep_all = True
        for name, attribute, judge in judges:
            keep, score, text = judge(doc["text"], recorded)
            doc["attributes"][attribute] = score
            per_rule[name]["seen"] += 1
            per_rule[name]["kept" if keep else "dropped"] += 1
            if task.annotate:  # every rule scores every document; nothing is dropped or rewritten
                doc["attributes"][f"{attribute}_keep"] = keep
                keep_all = keep_all and keep
                continue
            if not keep:
                return None
            doc["text"] = text
        if task.annotate:
            doc["attributes"]["keep"] = keep_all
        return doc

    stats = rewrite_shard(task.source, task.target, task.on_error, rewrite)
    stats.rules = per_rule
    return stats
