"""Stderrs and paired tests on inputs small enough to check by hand."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from lmspec.catalog.stats import (
    bits_per_byte,
    bootstrap_stderr,
    compare_means,
    holm,
    mcnemar,
    mean_stderr,
    paired_bootstrap,
    perplexity,
)
from lmspec.compiler.eval_data import detectable_effect, required_items


def test_mean_stderr_is_the_sample_standard_deviation_over_root_n() -> None:
    # [1, 0, 1, 1]: mean 3/4, sample variance (3 * 1/16 + 9/16) / 3 = 1/4, stderr sqrt(1/4) / 2
    assert mean_stderr([1, 0, 1, 1]) == pytest.approx(0.25)
    assert math.isnan(mean_stderr([1.0]))


def test_mcnemar_counts_only_the_disagreements() -> None:
    # 8 items only A gets right, 2 only B, 10 both or neither: p = 2 * P(X <= 2 | X ~ Bin(10, 1/2)) = 2 * 56 / 1024
    a = [1] * 8 + [0] * 2 + [1] * 5 + [0] * 5
    b = [0] * 8 + [1] * 2 + [1] * 5 + [0] * 5
    result = mcnemar(a, b)
    assert result.p_value == pytest.approx(0.109375)
    assert result.value == pytest.approx(0.3)  # (8 - 2) / 20
    # per-item differences: eight 1s, two -1s, ten 0s; sample variance 8.2 / 19
    assert result.stderr == pytest.approx(math.sqrt(8.2 / 19) / math.sqrt(20))
    assert (result.test, result.items) == ("McNemar exact", 20)
    assert mcnemar([1, 0, 1], [1, 0, 1]).p_value == 1.0
    assert compare_means(a, b) == result  # 0/1 scores take McNemar


def test_bootstrap_stderr_of_a_mean_matches_the_plug_in_formula() -> None:
    rng = np.random.default_rng(1)
    values = list(rng.normal(size=200))
    n = len(values)
    # the bootstrap estimates the plug-in stderr: population sd (ddof 0) / sqrt(n)
    expected = float(np.std(values)) / math.sqrt(n)
    found = bootstrap_stderr([values], lambda sums: sums[:, 0] / n, resamples=20_000)
    assert found == pytest.approx(expected, rel=0.03)
    assert bootstrap_stderr([values], lambda sums: sums[:, 0] / n) == bootstrap_stderr(
        [values], lambda sums: sums[:, 0] / n
    )  # seeded: the same inputs give the same stderr


def test_bits_per_byte_stderr_matches_the_delta_method() -> None:
    """Bits-per-byte is a ratio of sums; its stderr by the delta method: sd(b_i - R * n_i) / (sqrt(n) * mean(n_i))."""
    rng = np.random.default_rng(2)
    n_bytes = rng.integers(200, 2000, size=300).astype(float)
    bits = n_bytes * rng.normal(1.0, 0.2, size=300)
    logprob = -bits * math.log(2)
    columns = [list(logprob), list(n_bytes), list(n_bytes / 4)]
    ratio = bits.sum() / n_bytes.sum()
    delta = float(np.std(bits - ratio * n_bytes)) / (math.sqrt(len(bits)) * float(n_bytes.mean()))
    totals = np.asarray(columns).sum(axis=1)[None, :]
    assert bits_per_byte(totals)[0] == pytest.approx(ratio)
    assert perplexity(totals)[0] == pytest.approx(math.exp(-logprob.sum() / (n_bytes / 4).sum()))
    assert bootstrap_stderr(columns, bits_per_byte, resamples=20_000) == pytest.approx(delta, rel=0.05)


def test_paired_bootstrap_sees_a_real_difference_and_calls_noise_noise() -> None:
    rng = np.random.default_rng(3)
    difficulty = rng.normal(size=500)
    a = difficulty + 0.1  # the same items, shifted: a paired test sees it despite the spread of difficulty
    clear = paired_bootstrap([list(a), list(difficulty)], lambda s: (s[:, 0] - s[:, 1]) / 500)
    assert clear.value == pytest.approx(0.1)
    assert clear.stderr == pytest.approx(0.0, abs=1e-9)
    assert clear.p_value == pytest.approx(1 / 10_001)
    noise = rng.normal(scale=0.05, size=500)
    same = paired_bootstrap([list(difficulty + noise), list(difficulty)], lambda s: (s[:, 0] - s[:, 1]) / 500)
    assert same.stderr == pytest.approx(float(np.std(noise)) / math.sqrt(500), rel=0.05)
    normal = 2 * (1 - NormalDist().cdf(abs(same.value) / same.stderr))  # the bootstrap p is close to the z-test's
    assert same.p_value == pytest.approx(normal, abs=0.03)


def test_holm_adjusts_in_order_and_keeps_the_input_order() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_power_needs_about_ten_thousand_items_for_two_points() -> None:
    # (z_0.975 + z_0.8)^2 * 2 * 0.25 / 0.02^2 = 7.8489 * 0.5 / 0.0004 = 9811.1
    assert required_items(0.02) == 9812
    assert detectable_effect(9812) == pytest.approx(0.02, rel=1e-3)
    assert detectable_effect(1172) == pytest.approx(0.0579, abs=1e-3)
