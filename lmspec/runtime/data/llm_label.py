"""`llm_label`: a language model's answer to a prompt, as a score on every document (`attributes[attribute]`).

The model runs in this process (one load, batches of `batch_size` documents), shard after shard. Each
finished shard is kept under the step's resume folder (the shard and its stats, renamed into place once
both are written), so a killed run starts again at the first shard it had not finished; the shards move
into the output when all are done. stats.json counts empty documents (dropped), texts cut to fit
(`truncated`), shards taken from an earlier attempt (`shards_resumed`), and the scores' histogram: ten
equal bins between the lowest and the highest score the label can take (`<attribute>_0.00-0.10`, ...).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from lmspec.outputs.documents import Document, Documents, DocumentStats, ShardWriter, read_shard, shard_paths
from lmspec.outputs.model import ModelCheckpoint
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.llm_scoring import HuggingFaceBackend, Labeller, MaxTextBackend, SequenceScorer
from lmspec.runtime.registry import executes
from lmspec.schemas.base import is_ref
from lmspec.schemas.data import LlmLabel
from lmspec.schemas.labels import ExpectedScore

BINS = 10
WINDOW = 32
"""Batches handed to the labeller at once: it sorts their documents by length, so its batches pad little."""
PENDING = ".pending-"
"""Prefix of a shard being labelled in the resume folder; it loses it once complete."""


@executes(LlmLabel)
def label_documents(ctx: StepContext[LlmLabel]) -> StepResult:
    spec = ctx.spec
    started = time.time()
    inputs = ctx.input(spec.input, Documents).shards()
    targets = shard_paths(ctx.output_dir, len(inputs), spec.compression)
    done = ctx.resume_dir / "shards"
    done.mkdir(parents=True, exist_ok=True)
    resumed = sum((done / target.name).is_dir() for target in targets)
    if resumed:
        ctx.log.info("%d of %d shards were labelled by an earlier attempt: kept", resumed, len(targets))
    labeller: Labeller | None = None
    shard_stats: list[DocumentStats] = []
    for source, target in zip(inputs, targets, strict=True):
        finished = done / target.name
        if not finished.is_dir():
            labeller = labeller or Labeller(_scorer(ctx), spec.prompt, spec.label, spec.max_chars)
            shard_started = time.time()
            _label_shard(source, finished, labeller, spec)
            ctx.log.info("%s: labelled in %.1f s", target.name, time.time() - shard_started)
        shard_stats.append(Documents(finished).stats())
        _publish(finished / target.name, target)
    return step_stats.finish(ctx.output_dir, shard_stats, started, shards_resumed=resumed)


def _publish(shard: Path, target: Path) -> None:
    """A hard link (a copy across file systems): the resume folder keeps the shard until the step succeeds."""
    try:
        os.link(shard, target)
    except OSError:
        shutil.copy2(shard, target)


def _scorer(ctx: StepContext[LlmLabel]) -> SequenceScorer:
    """The model step's MaxText checkpoint, or the Hugging Face directory the spec names."""
    spec = ctx.spec
    if is_ref(spec.model):
        return MaxTextBackend(ctx.input(spec.model, ModelCheckpoint).path, spec.batch_size)
    return HuggingFaceBackend(ctx.local_path(spec.model), spec.batch_size)


def _label_shard(source: Path, finished: Path, labeller: Labeller, spec: LlmLabel) -> None:
    """Label one shard into `finished/` (its documents and stats), atomically: a folder that exists is whole."""
    pending = finished.with_name(PENDING + finished.name)
    shutil.rmtree(pending, ignore_errors=True)
    pending.mkdir()
    stats = DocumentStats(counts={"empty": 0, "truncated": 0, **dict.fromkeys(_bins(spec), 0)})
    writer = ShardWriter(pending / finished.name)
    batch: list[Document] = []
    try:
        for _, doc in read_shard(source, spec.on_error, stats):
            if not doc["text"].strip():
                stats.counts["empty"] += 1
                continue
            batch.append(doc)
            if len(batch) == spec.batch_size * WINDOW:
                _write_batch(batch, labeller, spec, writer, stats)
                batch = []
        _write_batch(batch, labeller, spec, writer, stats)
    finally:
        writer.close()
    stats.documents_out, stats.bytes_out = writer.documents, writer.bytes
    stats.write(pending)
    os.replace(pending, finished)


def _write_batch(
    batch: list[Document], labeller: Labeller, spec: LlmLabel, writer: ShardWriter, stats: DocumentStats
) -> None:
    if not batch:
        return
    bins = _bins(spec)
    low, high = _range(spec)
    for doc, labelled in zip(batch, labeller.label_texts([doc["text"] for doc in batch]), strict=True):
        doc["attributes"][spec.attribute] = labelled.value
        stats.counts["truncated"] += labelled.truncated
        position = int((labelled.value - low) / (high - low) * BINS)
        stats.counts[bins[min(max(position, 0), BINS - 1)]] += 1
        writer.write(doc)


def _range(spec: LlmLabel) -> tuple[float, float]:
    """The lowest and highest score the label can take."""
    if isinstance(spec.label, ExpectedScore):
        values = [float(choice) for choice in spec.label.choices]
        return min(values), max(values)
    return 0.0, 1.0


def _bins(spec: LlmLabel) -> list[str]:
    """The histogram's counters, `<attribute>_<low>-<high>`, lowest first."""
    low, high = _range(spec)
    width = (high - low) / BINS
    return [f"{spec.attribute}_{low + i * width:.2f}-{low + (i + 1) * width:.2f}" for i in range(BINS)]
