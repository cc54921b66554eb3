"""`tokenize`: documents -> train/validation ArrayRecord files that MaxText's grain pipeline reads offline.

MaxText tokenizes on the fly with the tokenizer copied beside the files (`lmspec.outputs.tokens` holds
the format); this step tokenizes too, to count tokens per split and to fail early on a tokenizer that
cannot read the data. A document's split depends only on its id and the seed, so adding documents never
moves old ones between splits.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from lmspec.outputs.documents import DataError, Documents, read_documents
from lmspec.outputs.tokenizer import Tokenizer, install_tokenizer
from lmspec.outputs.tokens import TRAIN, VALIDATION, Split, TokenizedDataWriter
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.schemas.training import Tokenize

ENCODE_BATCH = 256


@executes(Tokenize)
def tokenize(ctx: StepContext[Tokenize]) -> StepResult:
    spec = ctx.spec
    info = install_tokenizer(ctx.input_or_path(spec.tokenizer, Tokenizer), ctx.output_dir)
    tokenizer = Tokenizer(ctx.output_dir).load()
    shards = ctx.input(spec.input, Documents).shards()
    writer = TokenizedDataWriter(ctx.output_dir)
    for index, shard in enumerate(shards):
        with writer.shard(index):
            _tokenize_shard(shard, writer, tokenizer, spec)
        ctx.log.info(
            "shard %d/%d: train %s, validation %s",
            index + 1,
            len(shards),
            writer.counts(TRAIN),
            writer.counts(VALIDATION),
        )
    if writer.counts(TRAIN).documents == 0:
        raise DataError(
            f"the train split is empty ({writer.counts(VALIDATION).documents} documents went to "
            "validation); give it more documents or lower validation_fraction"
        )
    summary = writer.finish(info, spec.append_eos)
    return StepResult(counts=summary.counts(), metrics={"vocab_size": info.vocab_size})


def _tokenize_shard(shard: Path, writer: TokenizedDataWriter, tokenizer: Any, spec: Tokenize) -> None:
    """Every non-empty document of a shard into its split, tokenized in batches to count its tokens."""
    batch: list[tuple[Split, str]] = []
    extra = 1 + int(spec.append_eos)  # bos (and eos), as MaxText adds them

    def flush() -> None:
        encoded = tokenizer([text for _, text in batch], add_special_tokens=False)["input_ids"]
        for (split, text), ids in zip(batch, encoded, strict=True):
            writer.write(split, text, len(ids) + extra)
        batch.clear()

    for doc in read_documents(shard):
        if doc["text"]:
            batch.append((_split_of(doc["id"], spec.seed, spec.validation_fraction), doc["text"]))
        if len(batch) >= ENCODE_BATCH:
            flush()
    flush()


def _split_of(doc_id: str, seed: int, validation_fraction: float) -> Split:
    digest = hashlib.blake2b(f"{seed}:{doc_id}".encode(), digest_size=8).digest()
    return VALIDATION if int.from_bytes(digest) / 2**64 < validation_fraction else TRAIN
