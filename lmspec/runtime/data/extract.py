"""`extract`: HTML -> plain text with Resiliparse (default) or Trafilatura, keeping URL and title.

A page that leaves less than `min_length` characters is left out and counted in its stats
(`too_short`). A page the extractor fails on is a bad record like any other: it fails the step at its
shard and line, or with `on_error = "skip"` it is counted in `skipped` with its reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lmspec.outputs.documents import Document, Documents, DocumentStats, rewrite_shard, shard_paths
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Extract


@dataclass(frozen=True)
class ExtractTask:
    """One input shard of HTML into one output shard of text (a Beam element)."""

    source: Path
    target: Path
    spec: Extract


@executes(Extract)
def extract(ctx: StepContext[Extract]) -> StepResult:
    spec = ctx.spec
    inputs = ctx.input(spec.input, Documents).shards()
    started = time.time()
    targets = shard_paths(ctx.output_dir, len(inputs), spec.compression)
    tasks = [ExtractTask(source, target, spec) for source, target in zip(inputs, targets, strict=True)]
    results = run_shard_tasks(tasks, extract_shard, ctx.output_dir, spec.runner, spec.workers)
    return step_stats.finish(ctx.output_dir, results, started)


def extract_shard(task: ExtractTask) -> DocumentStats:
    spec = task.spec
    to_text = _resiliparse if spec.method == "resiliparse" else _trafilatura
    too_short = 0

    def rewrite(_: int, doc: Document) -> Document | None:
        nonlocal too_short
        text, title = to_text(doc["text"], spec.main_content)
        if len(text) < spec.min_length:
            too_short += 1
            return None
        doc["metadata"]["title"] = title
        doc["text"] = text
        return doc

    stats = rewrite_shard(task.source, task.target, spec.on_error, rewrite)
    stats.counts["too_short"] = too_short
    return stats


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
