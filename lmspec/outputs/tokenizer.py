"""A tokenizer output (train_tokenizer), and the tokenizer directory that tokenize and train outputs carry.

A tokenizer is a directory saved by `transformers.PreTrainedTokenizerFast.save_pretrained`
(`tokenizer.json` + `tokenizer_config.json`, and the chat template of a post-trained model's tokenizer):
MaxText loads it with `tokenizer_type=huggingface`,
`transformers.AutoTokenizer` loads it as is, and its bos/eos/pad tokens travel with it. A step output
holds it as `tokenizer/`: train_tokenizer's (beside `stats.json`), and a copy in every tokenize and
train output, so tokenized data and a model are always read with the tokenizer they were made with.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmspec.outputs.base import Output, without_timing
from lmspec.outputs.documents import DataError

TOKENIZER_DIR = "tokenizer"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_PATH = f"{TOKENIZER_DIR}/{TOKENIZER_FILE}"
"""The tokenizer file relative to a step output (what a train output's model.json points at)."""
STATS_FILE = "stats.json"


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


@dataclass(frozen=True)
class TokenizerStats:
    """What a train_tokenizer step learned from (its `stats.json`)."""

    documents: int
    bytes: int
    vocab_size: int

    def write(self, folder: Path) -> None:
        (folder / STATS_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))


class Tokenizer(Output):
    """A tokenizer: a step output holding `tokenizer/` or, for a path in the spec, a tokenizer directory or a
    bare `tokenizer.json`."""

    kind = "tokenizer"

    @property
    def source(self) -> Path:
        """The tokenizer directory (or bare file) itself: a step output's `tokenizer/`, else the path."""
        nested = self.path / TOKENIZER_DIR
        return nested if nested.is_dir() else self.path

    @property
    def file(self) -> Path:
        """Its `tokenizer.json` (the path itself when the spec names a bare file)."""
        return self.source / TOKENIZER_FILE if self.source.is_dir() else self.source

    def load(self) -> Any:
        """The transformers tokenizer, without bos/eos added by `encode` (callers add them where training did)."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self.source), add_bos_token=False, add_eos_token=False)

    def stats(self) -> TokenizerStats:
        """A train_tokenizer output's `stats.json`."""
        return TokenizerStats(**without_timing(json.loads((self.path / STATS_FILE).read_text())))

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template saved with it (by an sft or dpo step, or by whoever made it), if any."""
        template = self.load().chat_template
        return template if isinstance(template, str) else None

    def with_chat_template(self, template: str, folder: Path) -> Tokenizer:
        """This tokenizer saved as `folder/tokenizer/` carrying `template`, where MaxText's SFT pipeline and
        `transformers`' `apply_chat_template` read it (the rest of the tokenizer unchanged)."""
        tokenizer = self.load()
        tokenizer.chat_template = template
        target = folder / TOKENIZER_DIR
        shutil.rmtree(target, ignore_errors=True)
        tokenizer.save_pretrained(str(target))
        return Tokenizer(folder)

    def copy_to(self, output_dir: Path) -> Tokenizer:
        """Copy this tokenizer directory into another step's output, as its `tokenizer/`."""
        shutil.copytree(self.source, output_dir / TOKENIZER_DIR)
        return Tokenizer(output_dir)


def tokenizer_dir(output: str) -> str:
    """The tokenizer directory of a step output written as a path or URL (MaxText's `tokenizer_path`)."""
    return f"{output}/{TOKENIZER_DIR}"


def save_tokenizer(tokenizer: Any, specials: list[str], output_dir: Path) -> TokenizerInfo:
    """Save a `tokenizers.Tokenizer` as `output_dir/tokenizer/`, its first specials as bos, eos (and pad)."""
    from transformers import PreTrainedTokenizerFast

    bos, eos = specials[0], specials[1]
    pad = specials[2] if len(specials) > 2 else eos
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=bos, eos_token=eos, pad_token=pad)
    fast.save_pretrained(str(output_dir / TOKENIZER_DIR))
    return TokenizerInfo.of(fast)


def install_tokenizer(source: Tokenizer, output_dir: Path) -> TokenizerInfo:
    """Put `source` into `output_dir/tokenizer/` in the directory format, from a directory or a bare tokenizer.json.

    A bare tokenizer.json carries no bos/eos roles: its special added tokens are taken in id order as
    beginning of sequence, end of sequence and padding (one special token serves as all three, as in GPT-2).
    """
    from tokenizers import Tokenizer as HfTokenizer

    path = source.source
    if path.is_dir():
        if not source.file.is_file():
            raise DataError(f"{path} holds no {TOKENIZER_FILE}; point `tokenizer` at a train_tokenizer step's output")
        return TokenizerInfo.of(source.copy_to(output_dir).load())
    if not path.is_file():
        raise DataError(f"tokenizer {path} does not exist; give a {TOKENIZER_FILE} file or a directory holding one")
    try:
        tokenizer = HfTokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on a malformed file
        raise DataError(f"{path} is not a Hugging Face {TOKENIZER_FILE} ({exc})") from None
    specials = [t.content for _, t in sorted(tokenizer.get_added_tokens_decoder().items()) if t.special]
    if not specials:
        raise DataError(f"{path} declares no special tokens; lmspec needs at least an end-of-sequence token")
    return save_tokenizer(tokenizer, specials[:3] if len(specials) > 1 else specials * 2, output_dir)
