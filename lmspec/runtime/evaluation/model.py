"""A trained MaxText checkpoint in-process, scoring token sequences: the one forward pass evaluation uses.

The model is rebuilt from the flags its train step ran MaxText with (so dimensions, vocabulary and dtype
are exactly what was trained) and its final checkpoint, both read through `ModelCheckpoint`. Batches are
padded to a fixed [batch, seq_len] shape, so JAX compiles the forward pass once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.outputs.model import Flags, ModelCheckpoint, ModelLoadError
from lmspec.outputs.tokenizer import TOKENIZER_PATH

ARCHITECTURE_FLAGS = (
    "base_emb_dim",
    "base_num_decoder_layers",
    "base_num_query_heads",
    "base_num_kv_heads",
    "base_mlp_dim",
    "head_dim",
    "decoder_block",
    "num_experts",
    "num_experts_per_tok",
    "base_moe_mlp_dim",
    "use_qk_norm",
    "sliding_window_size",
    "vocab_size",
    "max_target_length",
    "dtype",
    "hardware",
    "skip_jax_distributed_system",
)
"""The train step's flags that define the network (the rest are about optimisation and data)."""


@dataclass(frozen=True)
class Scored:
    """Log-probability of a sequence's target tokens, and whether each was the model's greedy choice."""

    logprob: float
    greedy: bool
    tokens: int


class MaxTextScorer:
    """Loads a train step's output; `score` and `next_tokens` run batched forward passes."""

    def __init__(self, train_output: Path, batch_size: int = 8, checkpoint: str | None = None) -> None:
        """`checkpoint`, relative to the output (`checkpoints/<step>/items`), scores another than the final one."""
        model = ModelCheckpoint(train_output)
        final = model.final_checkpoint()  # reads model.json: a missing one is reported first
        flags = model.flags()
        if not model.tokenizer.file.is_file():
            raise ModelLoadError(
                f"the model at {train_output} has no tokenizer ({TOKENIZER_PATH} is missing); "
                "re-run its train step with --force to rebuild the output"
            )
        self.tokenizer = model.tokenizer.load()
        self.seq_len = int(flags["max_target_length"])
        self.batch_size = batch_size
        self.pad_id = int(self.tokenizer.pad_token_id)
        self._model, self._forward = _load(flags, model.checkpoint(checkpoint) if checkpoint else final)

    def score(self, sequences: list[tuple[list[int], int]]) -> list[Scored]:
        """For each (tokens, n): the log-probability of the last n tokens given everything before them.

        Sequences longer than the model's length keep their last `seq_len + 1` tokens (the context is
        cut from the left, as lm-eval expects).
        """
        results: list[Scored] = []
        for start in range(0, len(sequences), self.batch_size):
            chunk = [(tokens[-(self.seq_len + 1) :], n) for tokens, n in sequences[start : start + self.batch_size]]
            logprobs, greedy = self._run([(tokens[:-1], tokens[1:]) for tokens, _ in chunk])
            for row, (tokens, n) in enumerate(chunk):
                end = len(tokens) - 1
                hits = greedy[row, end - n : end] == tokens[len(tokens) - n :]
                results.append(Scored(float(logprobs[row, end - n : end].sum()), bool(hits.all()), n))
        return results

    def next_tokens(self, contexts: list[list[int]]) -> list[int]:
        """The greedy next token after each context (for generation); at most `batch_size` contexts."""
        inputs = [c[-self.seq_len :] for c in contexts]
        _, greedy = self._run([(c, c) for c in inputs])
        return [int(greedy[row, len(c) - 1]) for row, c in enumerate(inputs)]

    def _run(self, rows: list[tuple[list[int], list[int]]]) -> tuple[Any, Any]:
        """For (inputs, targets) rows: log p(target) and the argmax token at every position, [rows, seq_len]
        each. Only these leave the device: full logits would be batch x length x vocabulary floats."""
        import numpy as np

        shape = (self.batch_size, self.seq_len)
        tokens, targets = np.full(shape, self.pad_id, dtype=np.int32), np.zeros(shape, dtype=np.int32)
        segments = np.zeros(shape, dtype=np.int32)
        for row, (seq, target) in enumerate(rows):
            tokens[row, : len(seq)] = seq
            targets[row, : len(target)] = target
            segments[row, : len(seq)] = 1
        positions = np.broadcast_to(np.arange(self.seq_len, dtype=np.int32), shape)
        logprobs, greedy = self._forward(tokens, positions, segments, targets)
        return np.asarray(logprobs)[: len(rows)], np.asarray(greedy)[: len(rows)]


@dataclass(frozen=True)
class LoadedModel:
    """A MaxText model (flax nnx) with a checkpoint's weights, its device mesh, and MaxText's full config."""

    model: Any
    mesh: Any
    config: Any


def load_model(flags: Flags, checkpoint: Path) -> LoadedModel:
    """The network a train step's flags describe, with `checkpoint`'s weights: what evaluation scores and
    `lmspec export` converts."""
    from maxtext.configs import pyconfig
    from maxtext.utils import model_creation_utils

    if not checkpoint.is_dir():
        raise ModelLoadError(f"checkpoint {checkpoint} does not exist; re-run the train step with --force")
    argv = ["lmspec-evaluate", *(f"{k}={_flag(flags[k])}" for k in ARCHITECTURE_FLAGS if k in flags)]
    argv += [
        f"load_parameters_path={checkpoint}",
        "per_device_batch_size=1",
        "enable_checkpointing=false",
        "run_name=lmspec-evaluate",
        "dropout_rate=0.0",
    ]
    config = pyconfig.initialize(argv)
    model, mesh = model_creation_utils.from_pretrained(config)
    return LoadedModel(model, mesh, config)


def _load(flags: Flags, checkpoint: Path) -> tuple[Any, Any]:
    """The model and a jitted forward pass: log p(target) and the argmax token at every position."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    loaded = load_model(flags, checkpoint)
    graphdef, state = nnx.split(loaded.model)

    @jax.jit
    def forward(state: Any, tokens: Any, positions: Any, segments: Any, targets: Any) -> Any:
        logits = nnx.merge(graphdef, state)(
            decoder_input_tokens=tokens,
            decoder_positions=positions,
            decoder_segment_ids=segments,
            enable_dropout=False,
        )
        logprobs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
        picked = jnp.take_along_axis(logprobs, targets[..., None], axis=-1)[..., 0]
        return picked, logprobs.argmax(-1)

    def run(tokens: Any, positions: Any, segments: Any, targets: Any) -> Any:
        with jax.set_mesh(loaded.mesh):
            return forward(state, tokens, positions, segments, targets)

    return loaded.model, run


def _flag(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
