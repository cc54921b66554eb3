"""`train_tokenizer`: a byte-level BPE (or unigram) learned with Hugging Face `tokenizers`.

The result is saved in the one tokenizer directory format every later step reads
(`lmspec.outputs.tokenizer`): MaxText and `transformers.AutoTokenizer` load it as is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import islice
from typing import Any

from lmspec.outputs.documents import DataError, Documents
from lmspec.outputs.tokenizer import TokenizerStats, save_tokenizer
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.schemas.training import TrainTokenizer


@executes(TrainTokenizer)
def train_tokenizer(ctx: StepContext[TrainTokenizer]) -> StepResult:
    from tokenizers import Tokenizer, decoders, pre_tokenizers

    spec = ctx.spec
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    texts = (doc["text"] for doc in ctx.input(spec.input, Documents).read())
    counted = _Counted(islice(texts, spec.max_documents))
    model, trainer = _model_and_trainer(spec)
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(counted, trainer=trainer)
    if counted.documents == 0:
        raise DataError(f"{spec.input} holds no documents to learn a vocabulary from")
    info = save_tokenizer(tokenizer, spec.special_tokens, ctx.output_dir)
    stats = TokenizerStats(counted.documents, counted.bytes, info.vocab_size)
    if info.vocab_size < spec.vocab_size:
        ctx.log.warning("the corpus supports only %d of the %d tokens asked for", info.vocab_size, spec.vocab_size)
    stats.write(ctx.output_dir)
    ctx.log.info("tokenizer: %s", stats)
    return StepResult(counts={"documents": stats.documents, "bytes": stats.bytes, "vocab_size": stats.vocab_size})


def _model_and_trainer(spec: TrainTokenizer) -> tuple[Any, Any]:
    """The empty `tokenizers` model of the spec's algorithm and its trainer (byte-level alphabet, specials first)."""
    from tokenizers import models, pre_tokenizers, trainers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if spec.algorithm == "bpe":
        return models.BPE(), trainers.BpeTrainer(
            vocab_size=spec.vocab_size,
            special_tokens=spec.special_tokens,
            initial_alphabet=alphabet,
            show_progress=False,
        )
    return models.Unigram(), trainers.UnigramTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=spec.special_tokens,
        initial_alphabet=alphabet,
        unk_token=spec.special_tokens[-1],
        show_progress=False,
    )


class _Counted:
    """An iterator of texts that counts what the trainer consumed."""

    def __init__(self, texts: Iterator[str]) -> None:
        self._texts = texts
        self.documents = 0
        self.bytes = 0

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            self.documents += 1
            self.bytes += len(text.encode("utf-8"))
            yield text
