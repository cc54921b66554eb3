"""The report's parts on inputs made here: paired comparisons and their verdicts, the field diff between
variants, the power-law fit, and the Markdown and HTML renderings (the whole report from a real run is
tested in tests/integration/test_eval_breadth.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lmspec.catalog.compare import Variant, compare_variants
from lmspec.catalog.plots import ScalingPoint, fit_power_law, plot_curves, plot_scaling
from lmspec.catalog.report import Report, Row
from lmspec.catalog.report_render import to_html, to_markdown
from lmspec.catalog.spec_diff import spec_diff
from lmspec.compiler import compile_spec
from lmspec.outputs.metrics import ItemScores
from lmspec.schemas import ExperimentHeader
from tests.unit.test_eval_schema import HEAD

PNG = b"\x89PNG\r\n\x1a\n"


def _documents(bits_per_byte: list[float]) -> ItemScores:
    return {
        f"{i}:d": {"logprob": -b * 100 * math.log(2), "bytes": 100.0, "tokens": 25.0}
        for i, b in enumerate(bits_per_byte)
    }


def _answers(correct: list[int]) -> ItemScores:
    return {str(i): {"acc": float(c)} for i, c in enumerate(correct)}


def _variants() -> list[Variant]:
    rng = np.random.default_rng(0)
    base = list(rng.uniform(1.5, 2.5, size=200))
    answers = list(rng.integers(0, 2, size=100))
    return [
        Variant("eval_a", {"tokens": _documents([b - 0.05 for b in base]), "quiz": _answers(answers)}),
        Variant("eval_b", {"tokens": _documents(base), "quiz": _answers(answers[:50] + answers[50:][::-1])}),
        Variant("eval_c", {"tokens": _documents(base[:100]), "quiz": _answers(answers)}),
    ]


def test_pairs_are_compared_on_identical_items_with_a_plain_verdict() -> None:
    found = compare_variants(_variants(), {"tokens": {"bits_per_byte": False}, "quiz": {"acc": True}})
    by_pair = {(c.metric, c.a, c.b): c for c in found}
    # eval_c scored other held-out documents: its bits-per-byte is compared with nobody
    assert set(by_pair) == {
        ("tokens/bits_per_byte", "eval_a", "eval_b"),
        ("quiz/acc", "eval_a", "eval_b"),
        ("quiz/acc", "eval_a", "eval_c"),
        ("quiz/acc", "eval_b", "eval_c"),
    }
    bpb = by_pair["tokens/bits_per_byte", "eval_a", "eval_b"]
    assert bpb.difference.value == pytest.approx(-0.05)
    assert (bpb.significant, bpb.verdict, bpb.difference.test) == (True, "eval_a better", "paired bootstrap")
    same = by_pair["quiz/acc", "eval_a", "eval_c"]
    assert (same.difference.value, same.difference.p_value, same.verdict) == (0.0, 1.0, "not significant")
    assert all(c.adjusted_p >= c.difference.p_value for c in found)  # Holm only ever raises p-values


def test_the_field_diff_follows_references_down_to_the_changed_value(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        HEAD.replace("steps = 10\n", "steps = 10\noptimizer = { lr = 1e-3 }\n") + 'perplexity = ["@tokens"]\n\n'
        '[steps.other_tokens]\nkind = "tokenize"\ninput = "@docs"\ntokenizer = "@tok"\nvalidation_fraction = 0.1\n\n'
        '[steps.other]\nkind = "train"\ndata = "@other_tokens"\nsteps = 10\nbatch_size = 8\n'
        "optimizer = { lr = 3e-3 }\n\n"
        '[steps.eval_other]\nkind = "evaluate"\nmodel = "@other"\nperplexity = ["@tokens"]\n'
    )
    plan = compile_spec(spec, "/runs")
    assert spec_diff(plan, ["eval", "eval_other"]) == [
        ("model", ["@model", "@other"]),
        ("model.data", ["@tokens", "@other_tokens"]),
        ("model.data.validation_fraction", ["0.01", "0.1"]),
        ("model.optimizer.lr", ["0.001", "0.003"]),
    ]


def test_steps_of_different_kinds_are_named_not_opened(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        HEAD + 'perplexity = ["@tokens"]\n\n'
        '[steps.short]\nkind = "filter"\ninput = "@docs"\nrules = [{ kind = "length", min_words = 5 }]\n\n'
        '[steps.short_tokens]\nkind = "tokenize"\ninput = "@short"\ntokenizer = "@tok"\n\n'
        '[steps.other]\nkind = "train"\ndata = "@short_tokens"\nsteps = 10\nbatch_size = 8\n\n'
        '[steps.eval_other]\nkind = "evaluate"\nmodel = "@other"\nperplexity = ["@tokens"]\n'
    )
    plan = compile_spec(spec, "/runs")
    assert spec_diff(plan, ["eval", "eval_other"]) == [
        ("model", ["@model", "@other"]),
        ("model.data", ["@tokens", "@short_tokens"]),
        ("model.data.input", ["@docs (ingest)", "@short (filter)"]),
    ]


def test_a_power_law_is_recovered_and_needs_three_budgets(tmp_path: Path) -> None:
    points = [
        ScalingPoint(f"m{i}", parameters, 10 * parameters, 40.0 * (6.0 * 10 * parameters**2) ** -0.08, True)
        for i, parameters in enumerate([10**5, 10**6, 10**7])
    ]
    law = fit_power_law(points)
    assert law is not None
    assert (law.exponent, law.coefficient) == (pytest.approx(-0.08), pytest.approx(40.0))
    assert fit_power_law(points[:2]) is None
    plot_scaling(points, law, tmp_path / "scaling.png", "x")
    plot_curves({"m": {"loss": [(0, 3.0), (1, 2.0)], "eval_loss": [(1, 2.5)]}}, tmp_path / "loss.png", "x")
    assert (tmp_path / "scaling.png").read_bytes()[:8] == PNG
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG


def test_markdown_and_html_carry_the_same_sections() -> None:
    header = ExperimentHeader(name="ablation", description="Does the filter help?", issue="https://x.test/issues/15")
    report = Report(header, ["tokens/bits_per_byte", "quiz/acc"])
    report.rows = [
        Row("eval_a", "model_a", {"tokens/bits_per_byte": 1.95, "tokens/bits_per_byte_stderr": 0.01, "quiz/acc": 0.5}),
        Row("eval_b", "model_b", {"tokens/bits_per_byte": 2.0, "tokens/bits_per_byte_stderr": 0.01}),
    ]
    report.comparisons = compare_variants(_variants()[:2], {"tokens": {"bits_per_byte": False}, "quiz": {"acc": True}})
    report.differences = [("model.data", ["@clean", "@raw"])]
    images = {"png": "loss.png"}
    markdown = to_markdown(report, images)
    assert markdown.startswith("# ablation\n\nDoes the filter help?\n\nIssue: https://x.test/issues/15\n")
    assert "| eval_a | model_a | 1.9500 ± 0.0100 | 0.5000 |" in markdown
    assert "| eval_b | model_b | 2.0000 ± 0.0100 | n/a |" in markdown
    assert "| tokens/bits_per_byte | eval_a | eval_b | -0.0500 ± 0.0000 | < 0.0001 | 0.0002 |" in markdown
    assert "| not significant |" in markdown
    assert "| eval_a better |" in markdown
    assert "1 of 2 differences are significant" in markdown
    assert "| model.data | @clean | @raw |" in markdown
    assert markdown.rstrip().endswith("![training (solid) and validation (dashed) loss](loss.png)")
    page = to_html(report, images)
    assert "<a href='https://x.test/issues/15'>https://x.test/issues/15</a>" in page
    assert "<td>model.data</td><td>@clean</td><td>@raw</td>" in page
    assert "<tr class='ns'>" in page
    assert "<img src='loss.png'" in page
