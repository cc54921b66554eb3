"""`train_tokenizer`, and the one tokenizer directory format every later step reads.

A tokenizer is a directory saved by `transformers.PreTrainedTokenizerFast.save_pretrained`
(`tokenizer.json` + `tokenizer_config.json`): MaxText loads it with `tokenizer_type=huggingface`,
`transformers.AutoTokenizer` loads it as is, and its bos/eos/pad tokens travel with it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from lmspec.compiler.maxtext import TOKENIZER_DIR
from lmspec.outputs.documents import DataError, read_documents, shards
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.schemas.training import TrainTokenizer

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class TokenizerInfo:
    """What training and evaluation need to know about a tokenizer without loading it."""

    vocab_size: int
    bos_id: int
    eos_id: int
    pad_id: int

    @classmethod
    def of(cls, tokenizer: Any) -> TokenizerInfo:
        return cls(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)


@executes(TrainTokenizer)
def train_tokenizer(ctx: StepContext[TrainTokenizer]) -> StepResult:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    config = ctx.step.config.model_dump(mode="json")
    started = time.time()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    specials: list[str] = config["special_tokens"]
    if len(specials) < 2:
        raise DataError("special_tokens needs at least a beginning- and an end-of-sequence token, in that order")
    counted = _Counted(islice(_texts(ctx.inputs[config["input"].removeprefix("@")]), config["max_documents"]))
    tokenizer: Any
    if config["algorithm"] == "bpe":
        tokenizer = Tokenizer(models.BPE())
        trainer: Any = trainers.BpeTrainer(
            vocab_size=config["vocab_size"],
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=config["vocab_size"],
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            unk_token=specials[-1],
            show_progress=False,
        )
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(counted, trainer=trainer)
    if counted.documents == 0:
        raise DataError(f"train_tokenizer got no documents from @{config['input'].removeprefix('@')}")
    info = save_tokenizer(tokenizer, specials, ctx.output_dir / TOKENIZER_DIR)
    stats = {
        "documents": counted.documents,
        "bytes": counted.bytes,
        "vocab_size": info.vocab_size,
        "seconds": round(time.time() - started, 3),
    }
    if info.vocab_size < config["vocab_size"]:
        ctx.log.warning("the corpus supports only %d of the %d tokens asked for", info.vocab_size, config["vocab_size"])
    (ctx.output_dir / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True))
    ctx.log.info("tokenizer: %s", stats)
    return StepResult(counts={k: v for k, v in stats.items() if isinstance(v, int)})


def save_tokenizer(tokenizer: Any, specials: list[str], folder: Path) -> TokenizerInfo:
    """Save a `tokenizers.Tokenizer` as a transformers directory whose first specials are bos, eos (and pad)."""
    from transformers import PreTrainedTokenizerFast

    bos, eos = specials[0], specials[1]
    pad = specials[2] if len(specials) > 2 else eos
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, pad_token=pad)
    fast.save_pretrained(str(folder))
    return TokenizerInfo.of(fast)


def install_tokenizer(source: Path, folder: Path) -> TokenizerInfo:
    """Copy a tokenizer into `folder` in the directory format, from a directory or a bare tokenizer.json.

    A bare tokenizer.json carries no bos/eos roles: its special added tokens are taken in id order as
    beginning of sequence, end of sequence and padding (one special token serves as all three, as in GPT-2).
    """
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    if source.is_dir():
        if not (source / TOKENIZER_FILE).is_file():
            raise DataError(f"{source} holds no {TOKENIZER_FILE}; point `tokenizer` at a train_tokenizer step's output")
        shutil.copytree(source, folder)
        return TokenizerInfo.of(AutoTokenizer.from_pretrained(str(folder)))
    if not source.is_file():
        raise DataError(f"tokenizer {source} does not exist; give a tokenizer.json file or a directory holding one")
    try:
        tokenizer = Tokenizer.from_file(str(source))
    except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
        raise DataError(f"{source} is not a Hugging Face tokenizer.json ({exc})") from None
    specials = [t.content for _, t in sorted(tokenizer.get_added_tokens_decoder().items()) if t.special]
    if not specials:
        raise DataError(f"{source} declares no special tokens; lmspec needs at least an end-of-sequence token")
    return save_tokenizer(tokenizer, specials[:3] if len(specials) > 1 else specials * 2, folder)


def load_tokenizer(folder: Path) -> Any:
    """The transformers tokenizer in a tokenizer directory, without bos/eos added by `encode`."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), add_bos_token=False, add_eos_token=False)


def _texts(folder: Path) -> Iterator[str]:
    for shard in shards(folder):
        for doc in read_documents(shard):
            yield doc["text"]


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
