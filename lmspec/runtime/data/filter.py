"""`filter`: keep the documents that pass every rule, in order; each rule's score lands in `attributes`.

With `mode = "annotate"` every document is kept unchanged, with each rule's score and verdict
(`<kind>_keep`) and the overall verdict (`keep`) in `attributes`.

One input shard becomes one output shard (same index), so the output order is stable; its stats
count, per rule, how many documents it saw, kept and dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from lmspec.outputs.classifier import Classifier
from lmspec.outputs.documents import (
    Document,
    Documents,
    DocumentStats,
    OnError,
    each_document,
    rewrite_shard,
    shard_paths,
)
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.data.rules import ClassifierCheck, RunnableRule, attribute_names, build, percentile_threshold
from lmspec.runtime.registry import executes
from lmspec.schemas.data import ClassifierRule, Filter, FilterRule


@dataclass(frozen=True)
class FilterTask:
    """One input shard through every rule into one output shard (a Beam element)."""

    source: Path
    target: Path
    rules: tuple[RunnableRule, ...]
    annotate: bool
    on_error: OnError


@dataclass(frozen=True)
class ScoreTask:
    """One input shard scored by a classifier, for the threshold of its `keep_fraction` (a Beam element)."""

    source: Path
    check: ClassifierCheck
    on_error: OnError


@executes(Filter)
def filter_documents(ctx: StepContext[Filter]) -> StepResult:
    spec = ctx.spec
    inputs = ctx.input(spec.input, Documents).shards()
    started = time.time()
    rules = tuple(_runnable(rule, inputs, ctx) for rule in spec.rules)
    targets = shard_paths(ctx.output_dir, len(inputs), spec.compression)
    annotate = spec.mode == "annotate"
    tasks = [
        FilterTask(source, target, rules, annotate, spec.on_error)
        for source, target in zip(inputs, targets, strict=True)
    ]
    results = run_shard_tasks(tasks, filter_shard, ctx.output_dir, spec.runner, spec.workers)
    return step_stats.finish(ctx.output_dir, results, started)


def _runnable(rule: FilterRule, inputs: list[Path], ctx: StepContext[Filter]) -> RunnableRule:
    """The rule as shard tasks run it: a classifier rule gets its model file and its threshold."""
    if not isinstance(rule, ClassifierRule):
        return rule
    check = ClassifierCheck(rule, str(ctx.input_or_path(rule.model, Classifier).model_file), rule.min_score)
    if rule.keep_fraction is None:
        return check
    threshold = _percentile_threshold(inputs, check, rule.keep_fraction, ctx)
    ctx.log.info("keep_fraction %s of %s: min_score %.6f", rule.keep_fraction, rule.model, threshold)
    return replace(check, min_score=threshold)


def _percentile_threshold(
    inputs: list[Path], check: ClassifierCheck, keep_fraction: float, ctx: StepContext[Filter]
) -> float:
    """The score above which `keep_fraction` of all input documents lie: a scoring pass over every shard."""
    tasks = [ScoreTask(path, check, ctx.spec.on_error) for path in inputs]
    results = run_shard_tasks(tasks, score_shard, ctx.output_dir, ctx.spec.runner, ctx.spec.workers)
    return percentile_threshold([score for shard_scores in results for score in shard_scores], keep_fraction)


def score_shard(task: ScoreTask) -> list[float]:
    """The classifier's score of every document of a shard (bad records skipped or failing as in the filter)."""
    check = build(task.check)
    return list(each_document(task.source, task.on_error, DocumentStats(), lambda _, doc: check(doc["text"])[1]))


def filter_shard(task: FilterTask) -> DocumentStats:
    attributes = attribute_names([rule.kind for rule in task.rules])
    checks = [
        (f"{i}:{rule.kind}", attribute, build(rule))
        for i, (rule, attribute) in enumerate(zip(task.rules, attributes, strict=True))
    ]
    per_rule = {name: {"seen": 0, "kept": 0, "dropped": 0} for name, _, _ in checks}

    def rewrite(_: int, doc: Document) -> Document | None:
        keep_all = True
        for name, attribute, check in checks:
            keep, score, text = check(doc["text"])
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
