"""A model output (train): MaxText's checkpoints and curves, the tokenizer, and what lmspec knows of the model.

  checkpoints/<step>/items   orbax checkpoints (the last one is what `init_from` and evaluation load)
  tensorboard/               MaxText's event files
  tokenizer/                 the tokenizer the model was trained with
  maxtext.log                the trainer's output
  maxtext-flags.json         every override MaxText ran with
  model.json                 dimensions, vocabulary, final step, where the final checkpoint is

`checkpoints/` and `tensorboard/` keep the layout MaxText writes in its run directory, so a run directory
(`<out>.resume/run`) and a finished output are read with the same helpers here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.errors import LmspecError
from lmspec.outputs.base import Output
from lmspec.outputs.tokenizer import TOKENIZER_PATH, Tokenizer
from lmspec.schemas.training import ModelConfig

MODEL_FILE = "model.json"
FLAGS_FILE = "maxtext-flags.json"
LOG_FILE = "maxtext.log"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
COMMITTED_MARKER = "commit_success.txt"
"""Orbax writes this last into a checkpoint's directory: without it the checkpoint is incomplete."""
SHAPE_FIELDS = (
    "emb_dim",
    "num_layers",
    "num_heads",
    "num_kv_heads",
    "mlp_dim",
    "head_dim",
    "num_experts",
    "post_attn_norm",
    "qk_norm",
)
"""Dimensions and weights that must match for one model's weights to load into another (with the vocabulary;
seq_len may differ: RoPE)."""

Flags = dict[str, str | int | float | bool]
"""MaxText config overrides, `key=value` on its command line; a train output keeps them in maxtext-flags.json."""


class ModelLoadError(LmspecError):
    """A train output that cannot be read as a model: says which file is missing and what to do."""


def checkpoint_items(step: int) -> str:
    """The checkpoint of `step`, relative to a train output or MaxText run directory."""
    return f"{CHECKPOINTS_DIR}/{step}/items"


def final_checkpoint(train_output: str, final_step: int) -> str:
    """A train output's (path or URL) final checkpoint: what `init_from` loads and evaluation scores.

    The one way to find it: `lmspec compile` passes the step it plans to end at, a run the step that
    model.json recorded.
    """
    return f"{train_output}/{checkpoint_items(final_step)}"


def last_checkpoint(run: Path) -> int | None:
    """The newest committed checkpoint step under a MaxText run directory or train output, if any."""
    folder = run / CHECKPOINTS_DIR
    if not folder.is_dir():
        return None
    steps = [int(p.name) for p in folder.iterdir() if p.name.isdigit() and (p / COMMITTED_MARKER).is_file()]
    return max(steps, default=None)


def weight_shape(model: ModelConfig, vocab_size: int) -> dict[str, int]:
    """The dimensions that decide whether weights fit a model (SHAPE_FIELDS and the vocabulary)."""
    return {**{name: getattr(model, name) for name in SHAPE_FIELDS}, "vocab_size": vocab_size}


@dataclass(frozen=True)
class ModelInfo:
    """A train output's `model.json`: the model's dimensions and vocabulary, and its final step."""

    dimensions: ModelConfig
    vocab_size: int
    final_step: int

    @property
    def shape(self) -> dict[str, int]:
        return weight_shape(self.dimensions, self.vocab_size)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": {**self.dimensions.model_dump(), "vocab_size": self.vocab_size},
            "checkpoint": checkpoint_items(self.final_step),
            "final_step": self.final_step,
            "tokenizer": TOKENIZER_PATH,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        model = data["model"]
        return cls(ModelConfig.model_validate(model), int(model["vocab_size"]), int(data["final_step"]))


class ModelCheckpoint(Output):
    """A train output: its model.json, the flags MaxText ran with, its checkpoints and tokenizer."""

    kind = "model"

    def info(self) -> ModelInfo:
        return ModelInfo.from_json(self._read(MODEL_FILE))

    def flags(self) -> Flags:
        return dict(self._read(FLAGS_FILE))

    def final_checkpoint(self) -> Path:
        return Path(final_checkpoint(str(self.path), self.info().final_step))

    def checkpoint(self, relative: str) -> Path:
        """A checkpoint given relative to the output (`checkpoint_items(step)`)."""
        return self.path / relative

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.path)

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD_DIR

    @property
    def log_file(self) -> Path:
        return self.path / LOG_FILE

    def _read(self, name: str) -> dict[str, Any]:
        path = self.path / name
        if not path.is_file():
            raise ModelLoadError(f"{self.path} is not a finished train step output ({name} is missing)")
        return dict(json.loads(path.read_text()))


def write_flags(output_dir: Path, flags: Flags) -> None:
    (output_dir / FLAGS_FILE).write_text(json.dumps(flags, indent=2, sort_keys=True))


def publish_run(run: Path, output_dir: Path, info: ModelInfo) -> None:
    """Move a finished MaxText run's checkpoints and curves into a train output and write its model.json.

    The tokenizer and maxtext.log are already there (the executor copies the one and the trainer writes
    the other); the output is complete once this returns.
    """
    for name in (CHECKPOINTS_DIR, TENSORBOARD_DIR):
        os.replace(run / name, output_dir / name)
    (output_dir / MODEL_FILE).write_text(json.dumps(info.to_json(), indent=2, sort_keys=True))
