"""`filter`: keep the documents that pass every rule, in order; each rule's score lands in `attributes`.

With `mode = "annotate"` every document is kept unchanged, with each rule's score and verdict
(`<kind>_keep`) and the overall verdict (`keep`) in `attributes`.

One input shard becomes one output shard (same index), so the output order is stable; stats.json
counts, per rule, how many documents it saw, kept and dropped.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from lmspec.outputs.documents import Document, read_documents, rewrite_shard, shard_name, shards
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.data.rules import BUILDERS
from lmspec.runtime.data.train_classifier import CLASSIFIER_FILE
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Filter


@executes(Filter)
def filter_documents(ctx: StepContext[Filter]) -> StepResult:
    config = ctx.step.config.model_dump(mode="json")
    source = ctx.inputs[config["input"].removeprefix("@")]
    inputs = shards(source)
    started = time.time()
    for rule in config["rules"]:
        if rule["kind"] == "classifier":
            model = rule["model"]
            path = ctx.inputs[model[1:]] / CLASSIFIER_FILE if model.startswith("@") else ctx.spec_dir / model
            rule["model_path"] = str(path)
            if rule["keep_fraction"] is not None:
                rule["min_score"] = _percentile_threshold(inputs, rule, ctx.output_dir, config)
                ctx.log.info(
                    "keep_fraction %s of %s: min_score %.6f", rule["keep_fraction"], rule["model"], rule["min_score"]
                )
    tasks = [
        {
            "input": str(path),
            "output": str(ctx.output_dir / shard_name(i, len(inputs), config["compression"])),
            "rules": config["rules"],
            "annotate": config["mode"] == "annotate",
        }
        for i, path in enumerate(inputs)
    ]
    results = run_shard_tasks(tasks, filter_shard, ctx.output_dir, config["runner"], config["workers"])
    return step_stats.finish(ctx.output_dir, results, started)


def _percentile_threshold(inputs: list[Path], rule: dict[str, Any], output_dir: Path, config: dict[str, Any]) -> float:
    """The score above which `keep_fraction` of all input documents lie: a scoring pass over every shard."""
    import numpy as np

    tasks = [{"input": str(path), "rule": rule} for path in inputs]
    results = run_shard_tasks(tasks, score_shard, output_dir, config["runner"], config["workers"])
    scores = np.array([s for r in results for s in r["scores"]], dtype=np.float64)
    if scores.size == 0:
        return 1.0
    return float(np.quantile(scores, 1.0 - rule["keep_fraction"], method="higher"))


def score_shard(task: dict[str, Any]) -> dict[str, Any]:
    check = BUILDERS["classifier"](task["rule"])
    return {"scores": [check(doc["text"])[1] for doc in read_documents(Path(task["input"]))]}


def _rule_name(index: int, rule: dict[str, Any]) -> str:
    return f"{index}:{rule['kind']}"


def filter_shard(task: dict[str, Any]) -> dict[str, Any]:
    kinds = Counter(rule["kind"] for rule in task["rules"])  # a kind used twice: attribute <kind>_<position>
    checks = [
        (
            _rule_name(i, rule),
            rule["kind"] if kinds[rule["kind"]] == 1 else f"{rule['kind']}_{i}",
            BUILDERS[rule["kind"]](rule),
        )
        for i, rule in enumerate(task["rules"])
    ]
    per_rule = {name: {"seen": 0, "kept": 0, "dropped": 0} for name, _, _ in checks}

    def rewrite(_: int, doc: Document) -> Document | None:
        keep_all = True
        for name, attribute, check in checks:
            keep, score, text = check(doc["text"])
            doc["attributes"][attribute] = score
            per_rule[name]["seen"] += 1
            per_rule[name]["kept" if keep else "dropped"] += 1
            if task["annotate"]:  # every rule scores every document; nothing is dropped or rewritten
                doc["attributes"][f"{attribute}_keep"] = keep
                keep_all = keep_all and keep
                continue
            if not keep:
                return None
            doc["text"] = text
        if task["annotate"]:
            doc["attributes"]["keep"] = keep_all
        return doc

    return {**rewrite_shard(task, rewrite), "rules": per_rule}
