"""How a language model labels documents: the prompt around each text, as tokens, and the probability of
each answer right after it.

A label is read from log-likelihoods, not from generated text: each answer (` yes`, ` no`, ` 0` ... ` 5`)
is scored as the continuation of the prompt, the answers' probabilities are renormalised over the answers,
and the label turns them into one number. A batch of documents goes through one forward pass; prompts are
sorted by length first, so a batch pads little. A label does not depend on the batch it was in (beyond float
rounding, about 1e-7): both backends pad on the right, where no position that is read attends to the padding.

Two backends score token sequences: `MaxTextBackend`, an lmspec model step loaded as evaluation loads it,
with a forward pass that returns only the answers' log-probabilities; and transformers'
`AutoModelForCausalLM` (PyTorch) for a local Hugging Face model directory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lmspec.errors import LmspecError
from lmspec.runtime.evaluation.model import MaxTextScorer
from lmspec.schemas.labels import TEXT_SLOT, ExpectedScore, YesProbability, template

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "tokenizer_config.json")
"""What `save_pretrained` writes for a tokenizer, in one format or another; a model directory needs one."""


class LabelError(LmspecError):
    """A labeller that cannot run as asked: says which model or prompt, and what to do."""


class SequenceScorer(Protocol):
    """log p(answer | prompt) for every answer after every prompt (token lists), `batch_size` prompts per
    forward pass."""

    tokenizer: Any
    max_tokens: int
    """The longest sequence it scores whole (prompt, document and answer together)."""

    def answer_logprobs(self, prompts: list[list[int]], answers: list[list[int]]) -> list[list[float]]: ...


def answer_sequences(prompts: list[list[int]], answers: list[list[int]]) -> list[tuple[list[int], int]]:
    """Every prompt followed by every answer, with the answer's length: one sequence to score per pair."""
    return [(prompt + answer, len(answer)) for prompt in prompts for answer in answers]


def per_prompt(values: list[float], answers: int) -> list[list[float]]:
    return [values[i : i + answers] for i in range(0, len(values), answers)]


@dataclass(frozen=True)
class AnswerPlan:
    """Which rows to run so that every answer's log-probability can be read from them: a row is the prompt
    followed by one answer (its continuation), and the next-token distributions along it also give every
    answer that agrees with the continuation up to its own last token. ` yes` ([565, 433]) and ` no` ([360])
    share one row, so do ` 0` ... ` 5` ([223, d]): one row per document instead of one per answer.

    `reads[a]` is, for answer a, one (row, offset, token) per token: the token's log-probability is read at the
    row's last prompt position plus `offset`."""

    continuations: list[list[int]]
    reads: list[list[tuple[int, int, int]]]

    @classmethod
    def of(cls, answers: list[list[int]]) -> AnswerPlan:
        continuations: list[list[int]] = []
        reads: list[list[tuple[int, int, int]]] = [[] for _ in answers]
        for a in sorted(range(len(answers)), key=lambda i: -len(answers[i])):  # longest first: they cover the rest
            answer = answers[a]
            row = next((r for r, c in enumerate(continuations) if c[: len(answer) - 1] == answer[:-1]), None)
            if row is None:
                row = len(continuations)
                continuations.append(answer)
            reads[a] = [(row, offset, token) for offset, token in enumerate(answer)]
        return cls(continuations, reads)

    @property
    def width(self) -> int:
        """Positions read per row."""
        return max(len(c) for c in self.continuations)

    @property
    def tokens(self) -> list[int]:
        """The answers' tokens: the only log-probabilities a forward pass returns."""
        return sorted({token for answer in self.reads for _, _, token in answer})

    def combine(self, logprobs: Any) -> list[list[float]]:
        """Each prompt's answer log-probabilities, from [prompts, rows, width, tokens] read log-probabilities."""
        column = {token: i for i, token in enumerate(self.tokens)}
        sums = [sum(logprobs[:, r, o, column[t]] for r, o, t in answer) for answer in self.reads]
        return [[float(s[p]) for s in sums] for p in range(logprobs.shape[0])]


def padded_width(length: int, limit: int) -> int:
    """The width a batch whose longest row has `length` tokens is padded to: a multiple of an eighth of the
    next power of two (at least 16), at most `limit`. At most four widths per doubling, so JAX compiles a
    handful of shapes, and a batch pads at most a quarter of its length (or 15 tokens)."""
    step = max(16, (1 << (length - 1).bit_length()) >> 3)
    return min(-(-length // step) * step, limit)


class MaxTextBackend(MaxTextScorer):
    """An lmspec model step, loaded as evaluation loads it, with a forward pass of its own that returns only what
    a label needs: the answers' tokens' log-probabilities at the few positions `AnswerPlan` reads, not every
    position's (their logits are never computed: the decoder's hidden states at those positions go through the
    output head alone). Rows are padded on the right to the batch's `padded_width`, and the batch to
    `batch_size` rows, so jit compiles one shape per width; no position read attends to the padding."""

    def __init__(self, train_output: Path, batch_size: int) -> None:
        super().__init__(train_output, batch_size=batch_size)
        self.max_tokens = self.seq_len + 1  # the last answer token is read, never fed
        self._read = _answer_forward(self._model)

    def answer_logprobs(self, prompts: list[list[int]], answers: list[list[int]]) -> list[list[float]]:
        import numpy as np

        if not prompts:
            return []
        plan = AnswerPlan.of(answers)
        rows = [(prompt + c[:-1], len(prompt) - 1) for prompt in prompts for c in plan.continuations]
        step = self.batch_size * len(plan.continuations)
        read = [self._batch(rows[start : start + step], step, plan) for start in range(0, len(rows), step)]
        shape = (len(prompts), len(plan.continuations), plan.width, len(plan.tokens))
        return plan.combine(np.concatenate(read).reshape(shape))

    def _batch(self, rows: list[tuple[list[int], int]], size: int, plan: AnswerPlan) -> Any:
        """[rows, width, tokens] log-probabilities read along each (tokens, last prompt position) row."""
        import numpy as np

        width = padded_width(max(len(tokens) for tokens, _ in rows), self.seq_len)
        tokens = np.full((size, width), self.pad_id, dtype=np.int32)
        for row, (sequence, _) in enumerate(rows):
            tokens[row, : len(sequence)] = sequence
        starts = np.zeros(size, dtype=np.int32)
        starts[: len(rows)] = [start for _, start in rows]
        positions = np.minimum(starts[:, None] + np.arange(plan.width, dtype=np.int32), width - 1)
        return self._read(tokens, positions, np.array(plan.tokens, dtype=np.int32))[: len(rows)]


def _answer_forward(model: Any) -> Callable[[Any, Any, Any], Any]:
    """A jitted forward pass: for tokens [rows, width], positions [rows, k] and answer tokens [t], the
    log-probabilities [rows, k, t] of those tokens after each of those positions. The decoder is called as
    MaxText's `Transformer.__call__` calls it (an lmspec model has no vision or audio encoder, and multi-token
    prediction only adds training losses); its logits at every position go unused, so XLA never computes
    them, and only the [rows, k] hidden states picked go through the output head."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx
    from maxtext.common.common_types import MODEL_MODE_TRAIN

    graphdef, state = nnx.split(model)

    @jax.jit
    def forward(state: Any, tokens: Any, positions: Any, wanted: Any) -> Any:
        net = nnx.merge(graphdef, state)
        hidden = net.decoder(
            shared_embedding=net.token_embedder,
            decoder_input_tokens=tokens,
            decoder_positions=jnp.broadcast_to(jnp.arange(tokens.shape[1], dtype=jnp.int32), tokens.shape),
            decoder_segment_ids=jnp.ones_like(tokens),
            deterministic=True,
            model_mode=MODEL_MODE_TRAIN,
        )[1]
        picked = jnp.take_along_axis(hidden, positions[..., None], axis=1)
        logits = net.logits_from_hidden_states_for_vocab_tiling(picked, True, MODEL_MODE_TRAIN)
        return jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)[..., wanted]

    def run(tokens: Any, positions: Any, wanted: Any) -> Any:
        with jax.set_mesh(model.mesh):
            return np.asarray(forward(state, tokens, positions, wanted))

    return run


class HuggingFaceBackend:
    """A local Hugging Face model directory (config, weights, tokenizer), run with transformers on PyTorch,
    in float32, on the GPU when there is one. Answers of one token each (`yes`/`no`, `0`-`5`) are read from
    one row per prompt, the next-token distribution after it; longer ones take a row per answer."""

    def __init__(self, folder: Path, batch_size: int) -> None:
        import torch  # locked with the engines; imported only by the labellers that run on it
        from transformers import AutoModelForCausalLM

        self.tokenizer = _hf_tokenizer(folder)
        self._torch = torch
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
        self._model = model.to(self._device).eval()
        self.max_tokens = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
        self.batch_size = batch_size
        self._pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def answer_logprobs(self, prompts: list[list[int]], answers: list[list[int]]) -> list[list[float]]:
        if all(len(answer) == 1 for answer in answers):
            tokens = [answer[0] for answer in answers]
            return [
                row
                for start in range(0, len(prompts), self.batch_size)
                for row in self._next(prompts[start : start + self.batch_size], tokens)
            ]
        sequences = answer_sequences(prompts, answers)
        step = self.batch_size * len(answers)
        scored = [
            value
            for start in range(0, len(sequences), step)
            for value in self._sequences(sequences[start : start + step])
        ]
        return per_prompt(scored, len(answers))

    def _forward(self, rows: list[list[int]]) -> tuple[Any, Any]:
        """The token ids (right-padded) and the next-token logits at every position."""
        torch = self._torch
        width = max(len(tokens) for tokens in rows)
        ids = torch.full((len(rows), width), self._pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, tokens in enumerate(rows):
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        ids, mask = ids.to(self._device), mask.to(self._device)
        with torch.no_grad():
            return ids, self._model(input_ids=ids, attention_mask=mask).logits.float()

    def _next(self, prompts: list[list[int]], tokens: list[int]) -> list[list[float]]:
        """log p(token | prompt) of each candidate token, from one row per prompt."""
        torch = self._torch
        _, logits = self._forward(prompts)
        last = torch.tensor([len(p) - 1 for p in prompts], device=logits.device)
        after = torch.log_softmax(logits[torch.arange(len(prompts), device=logits.device), last], dim=-1)
        return [[float(v) for v in row] for row in after[:, tokens].cpu()]

    def _sequences(self, sequences: list[tuple[list[int], int]]) -> list[float]:
        """log p(last n tokens | the tokens before them) of each sequence."""
        ids, logits = self._forward([tokens for tokens, _ in sequences])
        logits = logits[:, :-1]
        picked = (logits.gather(-1, ids[:, 1:, None])[..., 0] - self._torch.logsumexp(logits, dim=-1)).cpu()
        return [
            float(picked[row, len(tokens) - 1 - n : len(tokens) - 1].sum()) for row, (tokens, n) in enumerate(sequences)
        ]


def _hf_tokenizer(folder: Path) -> Any:
    """The tokenizer saved in a model directory; a directory without one is refused before the model loads."""
    if not folder.is_dir():
        raise LabelError(
            f'model {folder} does not exist: give a model step (`"@name"`) or a Hugging Face model directory'
        )
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise LabelError(
            f"{folder} holds no tokenizer (none of {', '.join(TOKENIZER_FILES)}): save the model's tokenizer "
            "beside it with `tokenizer.save_pretrained(folder)`"
        )
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise LabelError(f"the tokenizer in {folder} cannot be loaded ({exc})") from None


@dataclass(frozen=True)
class Labelled:
    """One document's label, and whether its text was cut to fit (`max_chars` or the model's context)."""

    value: float
    truncated: bool


class Labeller:
    """Labels texts with one model, prompt and label kind: `label(texts)` scores them in one batch."""

    def __init__(
        self, scorer: SequenceScorer, prompt: str, label: YesProbability | ExpectedScore, max_chars: int
    ) -> None:
        self.scorer, self.label, self.max_chars = scorer, label, max_chars
        before, after = template(prompt).split(TEXT_SLOT, 1)
        bos = scorer.tokenizer.bos_token_id
        self.before = ([bos] if bos is not None else []) + self._encode(before)
        self.after = self._encode(after)
        self.answers = [self._encode(" " + choice) for choice in label.choices]
        self.room = scorer.max_tokens - len(self.before) - len(self.after) - max(len(a) for a in self.answers)
        if self.room < 1:
            raise LabelError(
                f"the prompt and its answers take {scorer.max_tokens - self.room} tokens, and the model reads at most "
                f"{scorer.max_tokens}: shorten the prompt or label with a model of a longer context"
            )

    def _encode(self, text: str) -> list[int]:
        return list(self.scorer.tokenizer.encode(text, add_special_tokens=False))

    def label_texts(self, texts: list[str]) -> list[Labelled]:
        """Each text's label; the text is cut to `max_chars`, then to the tokens the prompt leaves room for.
        The texts are tokenized in one call (the tokenizer's batch encoding, not a Python loop). Prompts are
        scored shortest first (batches of similar lengths pad little), labels returned in order."""
        if not texts:
            return []
        encoded = self.scorer.tokenizer([text[: self.max_chars] for text in texts], add_special_tokens=False)
        prompts = [self.before + list(tokens[: self.room]) + self.after for tokens in encoded["input_ids"]]
        truncated = [
            len(text) > self.max_chars or len(tokens) > self.room
            for text, tokens in zip(texts, encoded["input_ids"], strict=True)
        ]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        scored = self.scorer.answer_logprobs([prompts[i] for i in order], self.answers)
        values = dict(zip(order, (self.label.value(softmax(logprobs)) for logprobs in scored), strict=True))
        return [Labelled(values[i], cut) for i, cut in enumerate(truncated)]


def softmax(logprobs: list[float]) -> list[float]:
    """The answers' probabilities renormalised over the answers."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]
