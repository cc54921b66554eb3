"""`tokenize`: documents -> train/validation ArrayRecord shards that MaxText's grain pipeline reads offline.

Each record is a serialized `tf.train.Example` with one bytes feature `text` (MaxText's bundled
`example_pb2`, no TensorFlow), so MaxText tokenizes on the fly with the tokenizer copied next to the
shards. This step tokenizes too, to count tokens per split and to fail early on a tokenizer that cannot
read the data. A document's split depends only on its id and the seed, so adding documents never moves
old ones between splits.

Output: `train-NNNNN.array_record`, `validation-NNNNN.array_record` (one per input shard that has
documents for the split), `tokenizer/`, and `tokens.json` with counts per split.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lmspec.compiler.maxtext import TOKENIZER_DIR
from lmspec.outputs.documents import DataError, read_documents, shards
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.runtime.training.tokenizer import TokenizerInfo, install_tokenizer, load_tokenizer
from lmspec.schemas.training import Tokenize

TOKENS_FILE = "tokens.json"
SPLITS = ("train", "validation")
ENCODE_BATCH = 256


def read_split(tokens_output: Path, split: str) -> list[str]:
    """The document texts of one split of a tokenize output, in file order (the reverse of `_example`)."""
    from array_record.python.array_record_module import ArrayRecordReader
    from maxtext.input_pipeline.protos import example_pb2

    texts: list[str] = []
    for path in sorted(tokens_output.glob(f"{split}-*.array_record")):
        reader = ArrayRecordReader(str(path))
        try:
            for record in reader.read_all():
                example = example_pb2.Example.FromString(record)
                texts.append(example.features.feature["text"].bytes_list.value[0].decode("utf-8"))
        finally:
            reader.close()
    return texts


def read_tokens_info(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / TOKENS_FILE).read_text()))


@executes(Tokenize)
def tokenize(ctx: StepContext[Tokenize]) -> StepResult:
    config = ctx.step.config.model_dump(mode="json")
    started = time.time()
    source = config["tokenizer"]
    if source.startswith("@"):
        source_path = ctx.inputs[source[1:]] / TOKENIZER_DIR
    else:
        source_path = Path(source) if Path(source).is_absolute() else ctx.spec_dir / source
    info = install_tokenizer(source_path, ctx.output_dir / TOKENIZER_DIR)
    tokenizer = load_tokenizer(ctx.output_dir / TOKENIZER_DIR)
    counts = {split: {"documents": 0, "tokens": 0, "bytes": 0} for split in SPLITS}
    inputs = shards(ctx.inputs[config["input"].removeprefix("@")])
    for index, shard in enumerate(inputs):
        _tokenize_shard(shard, index, ctx.output_dir, tokenizer, info, config, counts)
        ctx.log.info("shard %d/%d: %s", index + 1, len(inputs), counts)
    if counts["train"]["documents"] == 0:
        raise DataError(
            f"tokenize: the train split is empty ({counts['validation']['documents']} documents went to "
            "validation); give it more documents or lower validation_fraction"
        )
    summary = {
        **asdict(info),
        "append_eos": config["append_eos"],
        "splits": counts,
        "seconds": round(time.time() - started, 3),
    }
    (ctx.output_dir / TOKENS_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True))
    flat = {f"{split}_{name}": value for split, c in counts.items() for name, value in c.items()}
    return StepResult(counts=flat, metrics={"vocab_size": info.vocab_size})


def _tokenize_shard(
    shard: Path,
    index: int,
    output_dir: Path,
    tokenizer: Any,
    info: TokenizerInfo,
    config: dict[str, Any],
    counts: dict[str, dict[str, int]],
) -> None:
    from array_record.python.array_record_module import ArrayRecordWriter

    writers: dict[str, Any] = {}
    batch: list[tuple[str, str]] = []

    def flush() -> None:
        encoded = tokenizer([text for _, text in batch], add_special_tokens=False)["input_ids"]
        for (split, text), ids in zip(batch, encoded, strict=True):
            if split not in writers:  # "group_size:1": grain reads records at random, one at a time
                writers[split] = ArrayRecordWriter(
                    str(output_dir / f"{split}-{index:05d}.array_record"), "group_size:1"
                )
            writers[split].write(_example(text))
            counts[split]["documents"] += 1
            counts[split]["tokens"] += len(ids) + 1 + int(config["append_eos"])  # + bos (+ eos)
            counts[split]["bytes"] += len(text.encode("utf-8"))
        batch.clear()

    try:
        for doc in read_documents(shard):
            if doc["text"]:
                batch.append((_split_of(doc["id"], config["seed"], config["validation_fraction"]), doc["text"]))
            if len(batch) >= ENCODE_BATCH:
                flush()
        flush()
    finally:
        for writer in writers.values():
            writer.close()


def _split_of(doc_id: str, seed: int, validation_fraction: float) -> str:
    digest = hashlib.blake2b(f"{seed}:{doc_id}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(digest) / 2**64 < validation_fraction else "train"


def _example(text: str) -> bytes:
    from maxtext.input_pipeline.protos import example_pb2

    example = example_pb2.Example()
    example.features.feature["text"].bytes_list.value.append(text.encode("utf-8"))
    return bytes(example.SerializeToString())
