"""Threshold sweeps share one scoring step in the plan: which sweeps do, and that nothing else changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lmspec.compiler import compile_spec
from lmspec.compiler.plan import Plan
from tests.conftest import diagnostics_of

SPEC = """
[experiment]
name = "sweep"

[steps.docs]
kind = "ingest"
paths = ["docs.jsonl"]
format = "jsonl"

[steps.clean]
kind = "filter"
input = "@docs"
rules = [{ kind = "gopher_quality" }, RULE]

[steps.tokens]
kind = "tokenize"
input = "@clean"
tokenizer = "tok.json"
"""
RATIO = '{ kind = "compression_ratio", min = 0.2, max = 0.8 }'


def _plan(write_spec: Callable[..., Path], sweep: str, rule: str = RATIO, name: str = "spec.toml") -> Plan:
    return compile_spec(write_spec(SPEC.replace("RULE", rule) + "\n[sweep]\n" + sweep, name), "/r")


def test_a_threshold_sweep_scores_once_and_keeps_every_points_hash(write_spec: Callable[..., Path]) -> None:
    plan = _plan(write_spec, '"steps.clean.rules.1.max" = [0.6, 0.7]')
    assert [s.name for s in plan.steps if s.kind == "filter"] == ["clean_scores", "clean_max_0p6", "clean_max_0p7"]
    scores = plan.step("clean_scores")
    assert scores.kind == "filter"
    assert scores.config.mode == "annotate"  # type: ignore[attr-defined]
    assert scores.config.rules[1].max == 1.0  # type: ignore[attr-defined]  # the swept cut, at its default
    for value in (0.6, 0.7):
        point = plan.step(f"clean_max_{str(value).replace('.', 'p')}")
        assert point.inputs == ("docs", "clean_scores")
        assert point.config.scores == "@clean_scores"  # type: ignore[attr-defined]
        alone = compile_spec(write_spec(SPEC.replace("RULE", RATIO.replace("0.8", str(value))), "alone.toml"), "/r")
        assert point.hash == alone.step("clean").hash  # the same identity as the filter that scores by itself
    other = _plan(write_spec, '"steps.clean.rules.1.max" = [0.65, 0.9]', name="other.toml")
    assert other.step("clean_scores").hash == scores.hash  # the thresholds are not in the scoring step's hash


def test_classifier_cuts_and_two_axes_share_one_scoring_step(write_spec: Callable[..., Path]) -> None:
    rule = '{ kind = "classifier", model = "q.bin", keep_fraction = 0.5 }'
    plan = _plan(
        write_spec, '"steps.clean.rules.1.keep_fraction" = [0.1, 0.2]\n"steps.clean.rules.0.min_words" = [5]', rule
    )
    assert "clean_scores" not in [s.name for s in plan.steps]  # gopher's min_words is no cut on one score
    plan = _plan(write_spec, '"steps.clean.rules.1.keep_fraction" = [0.1, 0.2]', rule)
    assert [s.name for s in plan.steps if s.kind == "filter"] == [
        "clean_scores",
        "clean_keep_fraction_0p1",
        "clean_keep_fraction_0p2",
    ]


def test_sweeps_that_cannot_share_stay_as_they_were(write_spec: Callable[..., Path]) -> None:
    c4 = '{ kind = "c4" }, ' + RATIO
    for sweep, rule in (
        ('"steps.clean.rules.2.max" = [0.6, 0.7]', c4),  # c4 rewrites the text
        ('"steps.clean.mode" = ["filter", "annotate"]', RATIO),  # not a threshold
        ('"steps.docs.format" = ["jsonl", "text"]\n"steps.clean.rules.1.max" = [0.6, 0.7]', RATIO),  # input swept
    ):
        plan = _plan(write_spec, sweep, rule)
        assert all(s.name != "clean_scores" for s in plan.steps), sweep
        assert all(not getattr(s.config, "scores", None) for s in plan.steps)


def test_scores_is_not_written_by_hand(write_spec: Callable[..., Path]) -> None:
    text = SPEC.replace("RULE", RATIO).replace('input = "@docs"\n', 'input = "@docs"\nscores = "@docs"\n', 1)
    [found] = diagnostics_of(write_spec(text))
    assert found.field == "steps.clean.scores"
    assert "is set by `lmspec compile`" in found.message
