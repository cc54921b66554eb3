"""Bits-per-byte and perplexity of a model on a held-out split, in strided windows, with bootstrap stderrs.

A document is the token sequence `[bos, t1, ..., tn(, eos)]`; every token after bos is predicted once.
The first window reads `window` tokens and scores them all; each later one slides by `stride`, scores only
its last `stride` tokens, and so predicts each from at least `window - stride` tokens before it (the
recipe of Hugging Face's "Perplexity of fixed-length models"). `stride = window` gives disjoint windows,
exactly lm-eval's `loglikelihood_rolling` (tested against lm-eval's own window code).

Bits-per-byte = -sum log2 p(token) / UTF-8 bytes, comparable across tokenizers; perplexity is per token.
Both are ratios of sums over documents, so their stderr comes from a seeded bootstrap over documents, and
each document's log-probability, bytes and tokens are kept for paired comparisons between models.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmspec.catalog.stats import DOCUMENT_SCORES, bits_per_byte, bootstrap_stderr, document_columns, perplexity
from lmspec.errors import LmspecError
from lmspec.outputs.metrics import ItemScores
from lmspec.outputs.tokens import VALIDATION, TokenizedData
from lmspec.schemas.evaluation import PerplexitySet

Window = tuple[list[int], int]
"""Tokens of one forward pass (inputs plus the next token) and how many of its last tokens it scores."""


class EvaluationError(LmspecError):
    """An evaluation that cannot run as asked: an unknown task, a task that needs the network, bad data."""


@dataclass(frozen=True)
class HeldOut:
    """A tokenize output's validation split: its documents in file order, and whether training appended eos."""

    texts: list[str]
    append_eos: bool


def held_out(tokens_output: Path) -> HeldOut:
    """The validation split of a tokenize output; empty is an error, since nothing can be measured on it."""
    tokens = TokenizedData(tokens_output)
    texts = tokens.read_split(VALIDATION)
    if not texts:
        raise EvaluationError(
            f"{tokens_output} has an empty validation split: raise its validation_fraction to measure bits-per-byte"
        )
    return HeldOut(texts, tokens.info().append_eos)


def strided_windows(tokens: list[int], bos: int, window: int, stride: int) -> list[Window]:
    """The windows that score every token of `[bos, *tokens]` once (see the module docstring)."""
    sequence = [bos, *tokens]
    windows: list[Window] = []
    start = 1
    while start < len(sequence):
        end = min(start + (window if start == 1 else stride), len(sequence))
        windows.append((sequence[max(0, end - window - 1) : end], end - start))
        start = end
    return windows


def score_split(model: Any, split: HeldOut, entry: PerplexitySet) -> tuple[dict[str, float], ItemScores]:
    """Metrics of one perplexity set, and each document's scores (keyed by position and content)."""
    window = entry.window or model.max_length
    if window > model.max_length:
        raise EvaluationError(
            f"perplexity `{entry.name}`: window = {window} is longer than the model's seq_len ({model.max_length}); "
            f"set window to at most {model.max_length}"
        )
    eos = [model.eot_token_id] if split.append_eos else []
    encoded = [model.tok_encode(text) + eos for text in split.texts]
    logprobs = model.rolling_logprobs(encoded, window, entry.stride or window)
    items = {
        document_id(i, text): dict(zip(DOCUMENT_SCORES, (lp, float(len(text.encode())), float(len(tok))), strict=True))
        for i, (text, tok, lp) in enumerate(zip(split.texts, encoded, logprobs, strict=True))
    }
    return split_metrics(items), items


def document_id(index: int, text: str) -> str:
    """Position in the split plus a digest of the text: pairs only the same document across evaluations."""
    return f"{index}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def split_metrics(items: ItemScores) -> dict[str, float]:
    """Bits-per-byte and perplexity over all documents, each with its bootstrap stderr."""
    columns = document_columns(items)
    totals = np.asarray(columns).sum(axis=1)[None, :]
    return {
        "bits_per_byte": float(bits_per_byte(totals)[0]),
        "bits_per_byte_stderr": bootstrap_stderr(columns, bits_per_byte),
        "perplexity": float(perplexity(totals)[0]),
        "perplexity_stderr": bootstrap_stderr(columns, perplexity),
        "documents": float(len(items)),
    }
