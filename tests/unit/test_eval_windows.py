"""Strided perplexity windows: every token scored once, with the promised context, and disjoint windows that
are exactly lm-eval's own (so `"@tokens"` keeps the bits-per-byte it always had)."""

from __future__ import annotations

import pytest
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from lmspec.runtime.evaluation.perplexity import strided_windows

BOS = 0


@pytest.mark.parametrize("length", [1, 2, 7, 8, 9, 31, 64, 100])
@pytest.mark.parametrize("window", [1, 4, 8, 16])
def test_stride_equal_to_window_is_lm_evals_disjoint_windows(length: int, window: int) -> None:
    tokens = list(range(1, length + 1))
    expected = []
    for pair in get_rolling_token_windows(tokens, BOS, window, 1):
        context, target = make_disjoint_window(pair)
        expected.append((context + target, len(target)))
    assert strided_windows(tokens, BOS, window, window) == expected


@pytest.mark.parametrize(("window", "stride"), [(8, 1), (8, 3), (8, 8), (16, 5), (2, 1)])
@pytest.mark.parametrize("length", [1, 5, 8, 9, 40])
def test_every_token_is_scored_once_with_at_least_window_minus_stride_context(
    length: int, window: int, stride: int
) -> None:
    tokens = list(range(1, length + 1))
    scored: list[int] = []
    for sequence, count in strided_windows(tokens, BOS, window, stride):
        assert len(sequence) <= window + 1  # the model reads at most `window` tokens
        targets = sequence[len(sequence) - count :]
        first = sequence.index(targets[0])
        if targets[0] > window:  # beyond the first window: at least window - stride tokens before it
            assert first >= window - stride
        assert sequence[:first] == list(range(targets[0] - first, targets[0]))  # its context is what precedes it
        scored.extend(targets)
    assert scored == tokens
