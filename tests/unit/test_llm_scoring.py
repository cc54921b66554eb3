"""How `llm_label`'s MaxText labeller plans its forward passes: which rows give every answer's
log-probability, and the widths batches are padded to (the forward pass itself runs in
tests/integration/test_datashop.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lmspec.runtime.data.llm_scoring import AnswerPlan, padded_width


def test_answers_that_differ_only_in_their_last_token_share_one_row() -> None:
    yes, no = [565, 433], [360]
    plan = AnswerPlan.of([yes, no])
    assert plan.continuations == [yes]
    assert plan.reads == [[(0, 0, 565), (0, 1, 433)], [(0, 0, 360)]]
    digits = [[223, d] for d in range(18, 24)]
    assert AnswerPlan.of(digits).continuations == [[223, 18]]
    assert AnswerPlan.of([[7, 8], [7, 8, 9]]).continuations == [[7, 8, 9]]


def test_answers_that_part_before_their_last_token_take_a_row_each() -> None:
    plan = AnswerPlan.of([[5, 6, 7], [5, 8, 9], [4]])
    assert plan.continuations == [[5, 6, 7], [5, 8, 9]]
    assert plan.reads[1] == [(1, 0, 5), (1, 1, 8), (1, 2, 9)]
    assert plan.reads[2] == [(0, 0, 4)]
    assert (plan.width, plan.tokens) == (3, [4, 5, 6, 7, 8, 9])


def test_an_answers_log_probability_is_the_sum_of_its_tokens_read_along_its_row() -> None:
    plan = AnswerPlan.of([[5, 6, 7], [5, 8, 9], [5, 4]])  # rows [5, 6, 7] and [5, 8, 9]; [5, 4] on the first
    logprobs = np.arange(2 * 2 * 3 * 7, dtype=np.float32).reshape(2, 2, 3, 7) / -100  # prompts, rows, width, tokens
    column = {token: i for i, token in enumerate(plan.tokens)}
    for prompt, values in enumerate(plan.combine(logprobs)):
        row = logprobs[prompt]
        expected = [
            row[0, 0, column[5]] + row[0, 1, column[6]] + row[0, 2, column[7]],
            row[1, 0, column[5]] + row[1, 1, column[8]] + row[1, 2, column[9]],
            row[0, 0, column[5]] + row[0, 1, column[4]],
        ]
        assert values == pytest.approx(expected)


@pytest.mark.parametrize(
    ("length", "limit", "width"),
    [(1, 128, 16), (16, 128, 16), (17, 128, 32), (64, 128, 64), (65, 128, 80), (97, 128, 112), (129, 2048, 160)],
)
def test_batches_pad_to_a_few_widths_at_most_a_quarter_longer(length: int, limit: int, width: int) -> None:
    assert padded_width(length, limit) == width


def test_no_batch_pads_past_the_models_length() -> None:
    assert padded_width(120, 118) == 118
    widths = {padded_width(n, 2048) for n in range(1, 2049)}
    assert len(widths) <= 4 * 7 + 4  # four per doubling from 16 to 2048
    assert all(padded_width(n, 2048) < 1.25 * n + 16 for n in range(1, 2049))
