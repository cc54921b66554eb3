"""`extract`: HTML -> plain text with Resiliparse (default) or Trafilatura, keeping URL and title.

A page that fails extraction, or leaves less than `min_length` characters, is counted in stats.json
(`extraction_failed`, `too_short`) and left out: one broken page must not stop a crawl.
"""

from __future__ import annotations

import time
from typing import Any

from lmspec.outputs.documents import Document, rewrite_shard, shard_name, shards
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Extract


@executes(Extract)
def extract(ctx: StepContext[Extract]) -> StepResult:
    config = ctx.step.config.model_dump(mode="json")
    inputs = shards(ctx.inputs[config["input"].removeprefix("@")])
    started = time.time()
    tasks = [
        {
            "input": str(path),
            "output": str(ctx.output_dir / shard_name(i, len(inputs), config["compression"])),
            "config": config,
        }
        for i, path in enumerate(inputs)
    ]
    results = run_shard_tasks(tasks, extract_shard, ctx.output_dir, config["runner"], config["workers"])
    return step_stats.finish(ctx.output_dir, results, started)


def extract_shard(task: dict[str, Any]) -> dict[str, Any]:
    config = task["config"]
    to_text = _resiliparse if config["method"] == "resiliparse" else _trafilatura
    counts = {"extraction_failed": 0, "too_short": 0}
    errors: list[str] = []

    def rewrite(_: int, doc: Document) -> Document | None:
        try:
            text, title = to_text(doc["text"], config["main_content"])
        except Exception as exc:  # a parser's failure on one page is that page's problem only
            counts["extraction_failed"] += 1
            if len(errors) < 5:
                errors.append(f"{doc['id']} ({doc['metadata'].get('url', '')}): {type(exc).__name__}: {exc}")
            return None
        if len(text) < config["min_length"]:
            counts["too_short"] += 1
            return None
        doc["metadata"]["title"] = title
        doc["text"] = text
        return doc

    return {**rewrite_shard(task, rewrite), **counts, "errors": errors}


def _resiliparse(html: str, main_content: bool) -> tuple[str, str]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    return extract_plain_text(tree, main_content=main_content).strip(), (tree.title or "").strip()


def _trafilatura(html: str, main_content: bool) -> tuple[str, str]:
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=not main_content, favor_recall=True)
    metadata = trafilatura.extract_metadata(html)
    return (text or "").strip(), (metadata.title if metadata and metadata.title else "").strip()
