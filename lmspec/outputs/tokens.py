"""A tokenized-data output (tokenize): train/validation ArrayRecord files that MaxText's grain pipeline reads.

Each record is a serialized `tf.train.Example` with one bytes feature `text` (MaxText's bundled
`example_pb2`, no TensorFlow), so MaxText tokenizes on the fly with the tokenizer copied beside the files.
The output holds `train-NNNNN.array_record` / `validation-NNNNN.array_record` (NNNNN is the input shard;
a file exists only for a split that shard has documents for), `tokenizer/`, and `tokens.json`: the
tokenizer's ids and documents, tokens and bytes per split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from lmspec.outputs.base import Output
from lmspec.outputs.tokenizer import Tokenizer, TokenizerInfo

TOKENS_FILE = "tokens.json"
SPLIT_SUFFIX = ".array_record"
Split = Literal["train", "validation"]
TRAIN: Split = "train"
VALIDATION: Split = "validation"
SPLITS: tuple[Split, ...] = (TRAIN, VALIDATION)


@dataclass(frozen=True)
class SplitCounts:
    """What one split holds: documents, tokens (bos and eos included, as training sees them), UTF-8 bytes."""

    documents: int = 0
    tokens: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class TokensInfo:
    """A tokenize output's `tokens.json`."""

    tokenizer: TokenizerInfo
    append_eos: bool
    train: SplitCounts
    validation: SplitCounts

    def counts(self) -> dict[str, int]:
        """Flat catalog counts: `train_documents`, `validation_tokens`, ..."""
        return {
            f"{split}_{name}": value
            for split, counted in ((TRAIN, self.train), (VALIDATION, self.validation))
            for name, value in asdict(counted).items()
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self.tokenizer),
            "append_eos": self.append_eos,
            "splits": {TRAIN: asdict(self.train), VALIDATION: asdict(self.validation)},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokensInfo:
        return cls(
            tokenizer=TokenizerInfo(data["vocab_size"], data["bos_id"], data["eos_id"], data["pad_id"]),
            append_eos=bool(data["append_eos"]),
            train=SplitCounts(**data["splits"][TRAIN]),
            validation=SplitCounts(**data["splits"][VALIDATION]),
        )


def _pattern(split: Split) -> str:
    return f"{split}-*{SPLIT_SUFFIX}"


def split_glob(tokens_output: str, split: Split) -> str:
    """The pattern MaxText's `grain_*_files` takes for one split of a tokenize output (a path or URL)."""
    return f"{tokens_output}/{_pattern(split)}"


class TokenizedData(Output):
    """A tokenize output: its counts, its splits' texts, the tokenizer it was made with."""

    kind = "tokens"

    def info(self) -> TokensInfo:
        return TokensInfo.from_json(json.loads((self.path / TOKENS_FILE).read_text()))

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.path)

    def split_files(self, split: Split) -> list[Path]:
        return sorted(self.path.glob(_pattern(split)))

    def read_split(self, split: Split) -> list[str]:
        """The document texts of one split, in file order (the reverse of `TokenizedDataWriter.write`)."""
        from array_record.python.array_record_module import ArrayRecordReader
        from maxtext.input_pipeline.protos import example_pb2

        texts: list[str] = []
        for path in self.split_files(split):
            reader = ArrayRecordReader(str(path))
            try:
                for record in reader.read_all():
                    example = example_pb2.Example.FromString(record)
                    texts.append(example.features.feature["text"].bytes_list.value[0].decode("utf-8"))
            finally:
                reader.close()
        return texts


class TokenizedDataWriter:
    """Writes a tokenize output's split files shard by shard, counting as it goes; `finish` writes tokens.json."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._counts = {split: SplitCounts() for split in SPLITS}
        self._open: dict[Split, Any] = {}
        self._shard = 0

    @contextmanager
    def shard(self, index: int) -> Iterator[None]:
        """Writes inside go to input shard `index`'s files (each opened when its split gets a first document)."""
        self._shard = index
        try:
            yield
        finally:
            for writer in self._open.values():
                writer.close()
            self._open.clear()

    def write(self, split: Split, text: str, tokens: int) -> None:
        from array_record.python.array_record_module import ArrayRecordWriter

        if split not in self._open:  # "group_size:1": grain reads records at random, one at a time
            name = f"{split}-{self._shard:05d}{SPLIT_SUFFIX}"
            self._open[split] = ArrayRecordWriter(str(self.folder / name), "group_size:1")
        self._open[split].write(_example(text))
        counted = self._counts[split]
        self._counts[split] = SplitCounts(
            counted.documents + 1, counted.tokens + tokens, counted.bytes + len(text.encode("utf-8"))
        )

    def counts(self, split: Split) -> SplitCounts:
        return self._counts[split]

    def finish(self, tokenizer: TokenizerInfo, append_eos: bool) -> TokensInfo:
        """Write tokens.json (after the last shard)."""
        info = TokensInfo(tokenizer, append_eos, self._counts[TRAIN], self._counts[VALIDATION])
        (self.folder / TOKENS_FILE).write_text(json.dumps(info.to_json(), indent=2, sort_keys=True))
        return info


def _example(text: str) -> bytes:
    from maxtext.input_pipeline.protos import example_pb2

    example = example_pb2.Example()
    example.features.feature["text"].bytes_list.value.append(text.encode("utf-8"))
    return bytes(example.SerializeToString())
