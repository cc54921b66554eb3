"""Malformed specs: each case asserts the exact line, column, field path and message the user sees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import diagnostics_of

HEAD = '[experiment]\nname = "x"\n\n'
"""Lines 1-3 of most cases."""

INGEST = '[steps.raw]\nkind = "ingest"\npaths = ["a.jsonl"]\nformat = "jsonl"\n\n'
"""Lines 4-8 when it follows HEAD (line 8 blank): a valid step to refer to."""

TOKENS = (
    '[steps.tok]\nkind = "train_tokenizer"\ninput = "@raw"\n\n'
    '[steps.tokens]\nkind = "tokenize"\ninput = "@raw"\ntokenizer = "@tok"\n\n'
)
"""Lines 9-17 after HEAD + INGEST (line 17 blank)."""

TRAIN = '[steps.model]\nkind = "train"\ndata = "@tokens"\nsteps = 10\nbatch_size = 2\n'
"""Lines 18-22 after HEAD + INGEST + TOKENS."""

VALID = HEAD + INGEST + TOKENS + TRAIN

CASES: list[tuple[str, str, int, int, str, str]] = [
    # (id, spec text, line, col, field, message fragment)
    ("toml-syntax-double-equals", HEAD + "[steps.raw]\nkind = = 1\n", 5, 8, "", "TOML syntax error: invalid value"),
    ("toml-syntax-unterminated", HEAD + '[steps.raw]\nkind = "ingest\n', 5, 15, "", "TOML syntax error"),
    ("toml-duplicate-table", HEAD + INGEST + "[steps.raw]\n", 9, 11, "", "cannot declare"),
    ("toml-duplicate-key", HEAD + '[steps.raw]\nkind = "ingest"\nkind = "extract"\n', 6, 17, "", "TOML syntax error"),
    (
        "unknown-top-level-key",
        HEAD + INGEST + "[stepz.a]\nkind = 1\n",
        9,
        2,
        "stepz",
        "unknown field `stepz`; did you mean `steps`?",
    ),
    (
        "unknown-experiment-key",
        '[experiment]\nname = "x"\ndescripton = "y"\n\n' + INGEST,
        3,
        1,
        "experiment.descripton",
        "did you mean `description`?",
    ),
    ("unknown-step-field", HEAD + INGEST[:-1] + "formt = 1\n", 8, 1, "steps.raw.formt", "did you mean `format`?"),
    (
        "unknown-nested-field",
        VALID + "optimizer = { lr = 1e-3, weight_decy = 0.1 }\n",
        23,
        26,
        "steps.model.optimizer.weight_decy",
        "did you mean `weight_decay`?",
    ),
    (
        "unknown-field-lists-valid",
        HEAD + INGEST[:-1] + "zzzz = 1\n",
        8,
        1,
        "steps.raw.zzzz",
        "valid fields: compression, description, format",
    ),
    (
        "unknown-rule-field",
        HEAD
        + INGEST
        + '[steps.f]\nkind = "filter"\ninput = "@raw"\nrules = [{ kind = "language", keep = ["en"], min_scor = 0.5 }]\n',
        12,
        46,
        "steps.f.rules[0].min_scor",
        "did you mean `min_score`?",
    ),
    (
        "unknown-step-kind",
        HEAD + '[steps.raw]\nkind = "ingset"\n',
        5,
        8,
        "steps.raw.kind",
        "unknown step kind `ingset`; did you mean `ingest`?",
    ),
    (
        "unknown-rule-kind",
        HEAD + INGEST + '[steps.f]\nkind = "filter"\ninput = "@raw"\nrules = [{ kind = "langauge" }]\n',
        12,
        19,
        "steps.f.rules[0].kind",
        "unknown kind `langauge`; did you mean `language`?",
    ),
    (
        "unknown-schedule-kind",
        VALID + 'schedule = { kind = "cosin" }\n',
        23,
        21,
        "steps.model.schedule.kind",
        "did you mean `cosine`?",
    ),
    ("missing-kind", HEAD + '[steps.raw]\npaths = ["a"]\n', 4, 8, "steps.raw", "missing `kind`"),
    (
        "missing-required-field",
        HEAD + '[steps.raw]\nkind = "ingest"\npaths = ["a"]\n',
        4,
        8,
        "steps.raw.format",
        "missing required field `format`",
    ),
    (
        "missing-experiment-name",
        '[experiment]\ndescription = "d"\n\n' + INGEST,
        1,
        2,
        "experiment.name",
        "missing required field `name`",
    ),
    (
        "wrong-type-string-for-number",
        VALID + 'optimizer = { lr = "fast" }\n',
        23,
        20,
        "steps.model.optimizer.lr",
        'expected a number, got "fast"',
    ),
    (
        "wrong-type-float-for-int",
        HEAD + INGEST + TOKENS + TRAIN.replace("steps = 10", "steps = 10.5"),
        21,
        9,
        "steps.model.steps",
        "expected an integer, got 10.5",
    ),
    (
        "wrong-type-string-for-int",
        HEAD + INGEST + TOKENS + TRAIN.replace("batch_size = 2", 'batch_size = "2"'),
        22,
        14,
        "steps.model.batch_size",
        'expected an integer, got "2"',
    ),
    (
        "wrong-type-bool",
        HEAD + INGEST + TOKENS[:-1] + 'append_eos = "yes"\n',
        17,
        14,
        "steps.tokens.append_eos",
        "expected true or false",
    ),
    (
        "wrong-type-list",
        HEAD + '[steps.raw]\nkind = "ingest"\npaths = "a.jsonl"\nformat = "jsonl"\n',
        6,
        9,
        "steps.raw.paths",
        "expected a list",
    ),
    ("wrong-type-table", VALID + "optimizer = 3\n", 23, 13, "steps.model.optimizer", "expected a table, got 3"),
    ("wrong-type-step-not-table", "steps = { raw = 5 }\n" + HEAD, 1, 17, "steps.raw", "expected a table"),
    (
        "out-of-range-negative",
        HEAD + INGEST + TOKENS + TRAIN.replace("batch_size = 2", "batch_size = -1"),
        22,
        14,
        "steps.model.batch_size",
        "expected a number >= 1, got -1",
    ),
    (
        "out-of-range-lr-zero",
        VALID + "optimizer = { lr = 0.0 }\n",
        23,
        20,
        "steps.model.optimizer.lr",
        "expected a number > 0.0, got 0.0",
    ),
    (
        "out-of-range-fraction",
        HEAD + INGEST + TOKENS[:-1] + "validation_fraction = 0.9\n",
        17,
        23,
        "steps.tokens.validation_fraction",
        "expected a number < 0.5",
    ),
    (
        "out-of-range-in-rule",
        HEAD
        + INGEST
        + '[steps.f]\nkind = "filter"\ninput = "@raw"\nrules = [\n  { kind = "compression_ratio", min = 0.1, max = 1.5 },\n]\n',
        13,
        50,
        "steps.f.rules[0].max",
        "expected a number <= 1.0, got 1.5",
    ),
    (
        "empty-list",
        HEAD + '[steps.raw]\nkind = "ingest"\npaths = []\nformat = "jsonl"\n',
        6,
        9,
        "steps.raw.paths",
        "expected at least 1 items",
    ),
    (
        "bad-literal",
        HEAD + INGEST.replace('"jsonl"\n\n', '"jsnol"\n\n'),
        7,
        10,
        "steps.raw.format",
        'got "jsnol"; did you mean `jsonl`?',
    ),
    (
        "reference-missing-step",
        HEAD + INGEST + TOKENS.replace('tokenizer = "@tok"', 'tokenizer = "@tokk"'),
        16,
        13,
        "steps.tokens.tokenizer",
        "no step named `tokk`; did you mean `tok`?",
    ),
    (
        "reference-without-at",
        HEAD + INGEST + '[steps.t]\nkind = "extract"\ninput = "raw"\n',
        11,
        9,
        "steps.t.input",
        'expected a reference to a step, written "@step_name", got "raw"',
    ),
    (
        "reference-wrong-kind",
        HEAD
        + INGEST
        + '[steps.clf]\nkind = "train_classifier"\npositive = ["@raw"]\nnegative = ["@raw2"]\n\n'
        + INGEST.replace("steps.raw", "steps.raw2")
        + '[steps.m]\nkind = "train"\ndata = "@clf"\nsteps = 1\nbatch_size = 1\n',
        21,
        8,
        "steps.m.data",
        "`@clf` is a train_classifier step, which produces classifier; `data` needs tokenized data (a tokenize step)",
    ),
    (
        "reference-wrong-kind-in-rule",
        HEAD
        + INGEST
        + '[steps.f]\nkind = "filter"\ninput = "@raw"\nrules = [{ kind = "classifier", model = "@raw" }]\n',
        12,
        41,
        "steps.f.rules[0].model",
        "`@raw` is an ingest step, which produces documents; `rules[0].model` needs a classifier",
    ),
    (
        "reference-mixture-key",
        VALID.replace('data = "@tokens"', 'data = { "@tokens" = 0.5, "@other" = 0.5 }'),
        20,
        27,
        'steps.model.data."@other"',
        "no step named `other`",
    ),
    (
        "mixture-weight-negative",
        VALID.replace('data = "@tokens"', 'data = { "@tokens" = -1.0 }'),
        20,
        22,
        'steps.model.data."@tokens"',
        "expected a number > 0.0, got -1.0",
    ),
    (
        "cycle-two-steps",
        HEAD + '[steps.a]\nkind = "dedup"\ninput = "@b"\n\n[steps.b]\nkind = "dedup"\ninput = "@a"\n',
        10,
        9,
        "steps.b.input",
        "cycle: a -> b -> a",
    ),
    ("cycle-self", HEAD + '[steps.a]\nkind = "dedup"\ninput = "@a"\n', 6, 9, "steps.a.input", "cycle: a -> a"),
    (
        "bad-step-name-upper",
        HEAD + '[steps.Raw]\nkind = "ingest"\npaths = ["a"]\nformat = "text"\n',
        4,
        8,
        "steps.Raw",
        "expected a step name",
    ),
    (
        "bad-step-name-escape",
        HEAD + '[steps."../../etc"]\nkind = "ingest"\npaths = ["a"]\nformat = "text"\n',
        4,
        8,
        'steps."../../etc"',
        "expected a step name",
    ),
    (
        "bad-experiment-name",
        '[experiment]\nname = "My Exp"\n\n' + INGEST,
        2,
        8,
        "experiment.name",
        "expected an experiment name",
    ),
    ("bad-experiment-name-slash", '[experiment]\nname = "../x"\n\n' + INGEST, 2, 8, "experiment.name", 'got "../x"'),
    (
        "undefined-var",
        HEAD + "[vars]\nn = 1\n\n" + INGEST.replace('format = "jsonl"', 'format = "${vars.fmt}"'),
        10,
        10,
        "steps.raw.format",
        "undefined variable ${vars.fmt}",
    ),
    (
        "undefined-var-suggests",
        HEAD + "[vars]\nseq_len = 1\n\n" + INGEST[:-1] + 'max_documents = "${vars.seqlen}"\n',
        11,
        17,
        "steps.raw.max_documents",
        "did you mean `seq_len`?",
    ),
    (
        "unknown-substitution",
        HEAD + INGEST.replace('"a.jsonl"', '"${env.HOME}/a"'),
        6,
        10,
        "steps.raw.paths[0]",
        "only ${vars.NAME} is supported",
    ),
    (
        "cross-field-warmup",
        VALID + 'schedule = { kind = "cosine", warmup_steps = 10 }\n',
        23,
        46,
        "steps.model.schedule.warmup_steps",
        "must be less than the 10 training steps, got 10",
    ),
    (
        "cross-field-steps-and-tokens",
        VALID + "tokens = 1000\n",
        21,
        9,
        "steps.model.steps",
        "give exactly one of `steps` or `tokens`",
    ),
    (
        "cross-field-wsd-too-long",
        VALID + 'schedule = { kind = "wsd", warmup_steps = 5, decay_fraction = 0.6 }\n',
        23,
        63,
        "steps.model.schedule.decay_fraction",
        "warm-up (5) plus decay (6) steps exceed the 10 training steps",
    ),
    (
        "maxtext-sgd-weight-decay",
        VALID + 'optimizer = { name = "sgd", weight_decay = 0.1 }\n',
        23,
        44,
        "steps.model.optimizer.weight_decay",
        "MaxText's sgd has no weight decay",
    ),
    (
        "cross-field-minhash-only",
        HEAD + INGEST + '[steps.d]\nkind = "dedup"\ninput = "@raw"\nmethod = "exact"\njaccard = 0.5\n',
        13,
        11,
        "steps.d.jaccard",
        'applies only to method = "minhash"',
    ),
    (
        "cross-field-compression",
        HEAD
        + INGEST
        + '[steps.f]\nkind = "filter"\ninput = "@raw"\nrules = [{ kind = "compression_ratio", min = 0.9, max = 0.5 }]\n',
        12,
        46,
        "steps.f.rules[0].min",
        "must be less than max (0.5), got 0.9",
    ),
    (
        "evaluate-needs-something",
        VALID + '\n[steps.e]\nkind = "evaluate"\nmodel = "@model"\n',
        24,
        8,
        "steps.e.perplexity",
        "needs `perplexity` data, `lm_eval` tasks, or both",
    ),
    (
        "sweep-unknown-step",
        VALID + '\n[sweep]\n"steps.modl.optimizer.lr" = [1e-3]\n',
        25,
        1,
        'sweep."steps.modl.optimizer.lr"',
        "no step named `modl`; did you mean `model`?",
    ),
    (
        "sweep-empty-values",
        VALID + '\n[sweep]\n"steps.model.steps" = []\n',
        25,
        23,
        'sweep."steps.model.steps"',
        "expected a non-empty list",
    ),
    ("sweep-bad-key", VALID + '\n[sweep]\n"lr" = [1]\n', 25, 1, "sweep.lr", "sweep keys are dotted step fields"),
    (
        "sweep-path-through-list",
        VALID + '\n[sweep]\n"steps.model.data.x" = [1]\n',
        25,
        1,
        'sweep."steps.model.data.x"',
        "`data` is not a table in step `model`",
    ),
    (
        "sweep-bad-value-located",
        VALID + '\n[sweep]\n"steps.model.batch_size" = [4, -2]\n',
        25,
        32,
        "steps.model.batch_size",
        "expected a number >= 1, got -2",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "col", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_spec_is_located(
    write_spec: Callable[..., Path], text: str, line: int, col: int, field: str, fragment: str
) -> None:
    path = write_spec(text)
    found = diagnostics_of(path)
    summary = "\n".join(d.format() for d in found)
    matching = [d for d in found if fragment in d.message]
    assert matching, f"no diagnostic says {fragment!r}; got:\n{summary}"
    d = matching[0]
    assert (d.file, d.line, d.col, d.field) == ("spec.toml", line, col, field), summary


def test_the_base_of_the_cases_is_valid(write_spec: Callable[..., Path]) -> None:
    assert diagnostics_of(write_spec(VALID)) == []


def test_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


def test_all_errors_in_a_file_are_reported_at_once(write_spec: Callable[..., Path]) -> None:
    text = (
        VALID.replace("batch_size = 2", "batch_size = 0")
        + 'optimizer = { lr = "x", z_los = 1 }\n\n[steps.t]\nkind = "extract"\ninput = "@nowhere"\n'
    )
    found = diagnostics_of(write_spec(text))
    fields = [d.field for d in found]
    assert fields == [
        "steps.model.batch_size",
        "steps.model.optimizer.lr",
        "steps.model.optimizer.z_los",
        "steps.t.input",
    ], fields
