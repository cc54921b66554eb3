"""The datashop kinds as `lmspec validate` sees them: `sample`, `llm_label`, `train_classifier` from a score
attribute; each malformed case at its line, field and message."""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.runtime.data.llm_scoring import softmax
from lmspec.runtime.data.rules import threshold
from lmspec.schemas.data import LlmLabel
from lmspec.schemas.labels import PROMPTS, ExpectedScore, YesProbability
from lmspec.schemas.rules import ClassifierRule, CompressionRatioRule, FilterRule
from tests.conftest import diagnostics_of

HEAD = '[experiment]\nname = "x"\n\n[steps.pool]\nkind = "ingest"\npaths = ["a.jsonl"]\nformat = "jsonl"\n\n'
"""Lines 1-8 (line 8 blank): a documents step to refer to."""

LABEL = '[steps.labels]\nkind = "llm_label"\ninput = "@pool"\nmodel = "labeller"\n'
"""Lines 9-12 after HEAD."""

CASES = [
    # (id, spec text, line, field, message fragment)
    (
        "prompt-without-text",
        HEAD + LABEL + 'prompt = "Is this good?"\n',
        13,
        "steps.labels.prompt",
        "must be a named prompt (ask_llm, fineweb_edu) or a template containing {text}",
    ),
    (
        "named-prompt-wrong-label",
        HEAD + LABEL + 'prompt = "fineweb_edu"\n',
        9,
        "steps.labels.label.kind",
        'prompt `fineweb_edu` asks for a `score` answer; set label = { kind = "score" }',
    ),
    (
        "score-choices-not-numbers",
        HEAD + LABEL + 'prompt = "fineweb_edu"\nlabel = { kind = "score", choices = ["0", "high"] }\n',
        14,
        "steps.labels.label.choices[1]",
        "must be a number (the score is their expected value), got 'high'",
    ),
    (
        "model-step-that-is-no-model",
        HEAD + LABEL.replace('"labeller"', '"@pool"'),
        12,
        "steps.labels.model",
        "`@pool` is an ingest step, which produces documents; `model` needs a model checkpoint (a train",
    ),
    (
        "sample-count-and-fraction",
        HEAD + '[steps.s]\nkind = "sample"\ninput = "@pool"\ncount = 10\nfraction = 0.5\n',
        12,
        "steps.s.count",
        "give exactly one of `count` or `fraction`",
    ),
    (
        "classifier-attribute-without-input",
        HEAD + '[steps.q]\nkind = "train_classifier"\nlabel = { attribute = "llm_label", threshold = 0.5 }\n',
        9,
        "steps.q.input",
        "label = { attribute, threshold } needs the scored documents as `input`",
    ),
    (
        "classifier-attribute-and-sides",
        HEAD
        + '[steps.q]\nkind = "train_classifier"\ninput = "@pool"\npositive = ["@pool"]\n'
        + 'label = { attribute = "llm_label", threshold = 0.5 }\n',
        12,
        "steps.q.positive",
        "the classes come from `input`; remove `positive`",
    ),
    (
        "classifier-without-negative",
        HEAD + '[steps.q]\nkind = "train_classifier"\npositive = ["@pool"]\n',
        9,
        "steps.q.negative",
        "needs at least one negative example source",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_datashop_steps(
    write_spec: Callable[..., Path], text: str, line: int, field: str, message: str
) -> None:
    [found] = diagnostics_of(write_spec(text))
    assert (found.line, found.field) == (line, field)
    assert message in found.message


def test_a_label_step_hashes_what_it_computes(write_spec: Callable[..., Path]) -> None:
    """The batch size is how, not what: it is not hashed; the prompt and the label are."""
    base = HEAD + LABEL
    hashes = {
        name: compile_spec(write_spec(base + extra, f"{name}.toml"), "/r").step("labels").hash
        for name, extra in {
            "default": "",
            "batch": "batch_size = 64\n",
            "named": 'prompt = "ask_llm"\n',
            "other": 'prompt = "Text: {text} Good?"\n',
        }.items()
    }
    assert hashes["default"] == hashes["batch"] == hashes["named"]
    assert hashes["other"] != hashes["default"]


def test_the_classifier_learns_from_a_score_attribute(write_spec: Callable[..., Path]) -> None:
    text = HEAD + '[steps.q]\nkind = "train_classifier"\ninput = "@pool"\nlabel = { attribute = "s", threshold = 3 }\n'
    step = compile_spec(write_spec(text), "/r").step("q")
    assert step.inputs == ("pool",)
    assert step.fingerprint["config"]["input"] == f"@{compile_spec(write_spec(text), '/r').step('pool').hash}"


def test_named_prompts_hold_one_text_slot_and_labels_read_their_answers() -> None:
    assert all(prompt.template.count("{text}") == 1 for prompt in PROMPTS.values())
    assert LlmLabel.model_validate({"kind": "llm_label", "input": "@a", "model": "m"}).label.choices == ("yes", "no")
    assert YesProbability(kind="yes_probability").value(softmax([0.0, 0.0])) == pytest.approx(0.5)
    assert ExpectedScore(kind="score").value(softmax([0.0] * 5 + [50.0])) == pytest.approx(5.0)
    assert sum(softmax([-1000.0, -1001.0, -999.0])) == pytest.approx(1.0)


def test_every_rule_with_threshold_fields_decides_from_its_score_alone() -> None:
    """The compiler shares the scoring of sweeps over `thresholds`; the runtime must cut those rules' scores."""
    from lmspec.runtime.data.rules import ClassifierCheck

    rules = typing.get_args(typing.get_args(FilterRule)[0])
    shared = {cls for cls in rules if getattr(cls, "thresholds", ())}
    assert shared == {ClassifierRule, CompressionRatioRule}
    ratio = threshold(CompressionRatioRule(kind="compression_ratio", min=0.2, max=0.8))
    check = threshold(ClassifierCheck(ClassifierRule(kind="classifier", model="m.bin"), "m.bin", 0.7))
    assert ratio is not None
    assert check is not None
    assert (ratio(0.2), ratio(0.8), ratio(0.81), check(0.7), check(0.69)) == (True, True, False, True, False)
