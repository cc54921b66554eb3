"""How a language model labels documents: the prompt around each text, as tokens, and the probability of
each answer right after it.

A label is read from log-likelihoods, not from generated text: each answer (` yes`, ` no`, ` 0` ... ` 5`)
is scored as the continuation of the prompt, the answers' probabilities are renormalised over the answers,
and the label turns them into one number. A batch of documents goes through one forward pass; prompts are
sorted by length first, so a batch pads little. A label does not depend on the batch it was in: MaxText pads
to a fixed shape, and transformers pads on the right, where no token attends to the padding.

Two backends score token sequences: `MaxTextScorer`, evaluation's forward pass, for an lmspec model step;
and transformers' `AutoModelForCausalLM` (PyTorch) for a local Hugging Face model directory.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lmspec.errors import LmspecError
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


class MaxTextBackend:
    """An lmspec model step, through the scorer evaluation uses: one sequence per answer (it returns the
    log-probability of given targets only, so each answer is its own row)."""

    def __init__(self, train_output: Path, batch_size: int, answers: int) -> None:
        from lmspec.runtime.evaluation.model import MaxTextScorer

        self._scorer = MaxTextScorer(train_output, batch_size=batch_size * answers)
        self.tokenizer = self._scorer.tokenizer
        self.max_tokens = self._scorer.seq_len + 1  # inputs are every token but the last

    def answer_logprobs(self, prompts: list[list[int]], answers: list[list[int]]) -> list[list[float]]:
        scored = self._scorer.score(answer_sequences(prompts, answers))
        return per_prompt([s.logprob for s in scored], len(answers))


class HuggingFaceBackend:
    """A local Hugging Face model directory (config, weights, tokenizer), run with transformers on PyTorch,
    in float32, on the GPU when there is one. Answers of one token each (`yes`/`no`, `0`-`5`) are read from
    one row per prompt, the next-token distribution after it; longer ones take a row per answer."""

    def __init__(self, folder: Path, batch_size: int) -> None:
        self.tokenizer = _hf_tokenizer(folder)
        try:
            torch = importlib.import_module("torch")  # not among lmspec's locked engines: optional here
            from transformers import AutoModelForCausalLM
        except ImportError:
            raise LabelError(
                f"labelling with the Hugging Face model {folder} needs PyTorch, which is not installed: "
                '`pip install torch`, or label with an lmspec model step (`model = "@name"`)'
            ) from None
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
        Prompts are scored shortest first (batches of similar lengths pad little), labels returned in order."""
        prompts: list[list[int]] = []
        truncated: list[bool] = []
        for text in texts:
            tokens = self._encode(text[: self.max_chars])
            truncated.append(len(text) > self.max_chars or len(tokens) > self.room)
            prompts.append(self.before + tokens[: self.room] + self.after)
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
