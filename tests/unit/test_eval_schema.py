"""The evaluate step's spec shapes: per-task shots, suites, strided perplexity sets, and the hashes of the
older forms, which must not move (every cached evaluation would otherwise re-run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.identity import fingerprint
from lmspec.schemas.evaluation import SUITES, Evaluate
from tests.conftest import diagnostics_of

HEAD = """\
[experiment]
name = "e"

[steps.docs]
kind = "ingest"
paths = ["docs.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@docs"

[steps.tokens]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"

[steps.model]
kind = "train"
data = "@tokens"
steps = 10
batch_size = 8

[steps.eval]
kind = "evaluate"
model = "@model"
"""
"""Lines 1-26; the evaluate step's fields follow from line 27."""


def _canonical(step: dict[str, Any]) -> Any:
    return fingerprint(Evaluate.model_validate({"kind": "evaluate", "model": "@m", **step}), {}, {})["config"]


def test_the_older_forms_canonicalise_exactly_as_before() -> None:
    """The canonical form recorded before per-task tables, suites and strided sets existed."""
    before = {
        "kind": "evaluate",
        "lm_eval": {"include_path": None, "limit": 20, "num_fewshot": 0, "tasks": ["local_task"]},
        "model": "@m",
        "perplexity": ["@web_tokens", "@code_tokens"],
        "version": 1,
    }
    step = {"perplexity": ["@web_tokens", "@code_tokens"], "lm_eval": {"tasks": ["local_task"], "limit": 20}}
    assert _canonical(step) == before
    assert _canonical({"perplexity": ["@t"]}) == {"kind": "evaluate", "lm_eval": None, "model": "@m",
                                                  "perplexity": ["@t"], "version": 1}  # fmt: skip


def test_a_suite_hashes_as_its_tasks_written_out_and_its_name_is_not_hashed() -> None:
    written_out = [{"name": t.name, "num_fewshot": t.num_fewshot} for t in SUITES["open_llm_v1"]]
    assert _canonical({"lm_eval": {"suite": "open_llm_v1"}}) == _canonical({"lm_eval": {"tasks": written_out}})
    assert "suite" not in _canonical({"lm_eval": {"suite": "open_llm_v1"}})["lm_eval"]
    # min_effect changes no output: not hashed either
    assert _canonical({"perplexity": ["@t"], "min_effect": 0.02}) == _canonical({"perplexity": ["@t"]})


def test_a_table_is_a_new_identity_and_a_string_keeps_its_own() -> None:
    plain = _canonical({"perplexity": ["@t"]})
    assert _canonical({"perplexity": [{"data": "@t", "window": 64, "stride": 16}]}) != plain
    assert _canonical({"lm_eval": {"tasks": [{"name": "x", "num_fewshot": 5}]}}) != _canonical(
        {"lm_eval": {"tasks": ["x"], "num_fewshot": 5}}
    )


def test_the_suite_expands_to_its_six_tasks_with_their_shots_in_the_plan(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(HEAD + 'lm_eval = { suite = "open_llm_v1" }\n')
    config = compile_spec(spec, "/runs").step("eval").config
    assert isinstance(config, Evaluate)
    assert config.lm_eval is not None
    shots = {entry.name: config.lm_eval.shots(entry) for entry in config.lm_eval.entries()}
    assert shots == {"arc_challenge": 25, "truthfulqa_mc2": 0, "winogrande": 5, "hellaswag": 10, "mmlu": 5, "gsm8k": 5}
    assert [t.metric for t in SUITES["open_llm_v1"]] == [
        "acc_norm", "acc", "acc", "acc_norm", "acc", "exact_match:strict-match",
    ]  # fmt: skip


def test_a_listed_task_overrides_the_suites_entry_and_plain_names_keep_the_tables_shots(
    write_spec: Callable[..., Path],
) -> None:
    spec = write_spec(
        HEAD + 'perplexity = ["@tokens"]\n'
        'lm_eval = { suite = "open_llm_v1", num_fewshot = 3, tasks = [{ name = "mmlu", num_fewshot = 0 }, '
        '"lmspec_cloze", { name = "arc_easy", num_fewshot = 7 }] }\n'
    )
    config = compile_spec(spec, "/runs").step("eval").config
    assert isinstance(config, Evaluate)
    assert config.lm_eval is not None
    shots = {entry.name: config.lm_eval.shots(entry) for entry in config.lm_eval.entries()}
    assert shots["mmlu"] == 0
    assert shots["lmspec_cloze"] == 3
    assert shots["arc_easy"] == 7
    assert list(shots).count("mmlu") == 1
    assert len(shots) == 8


def test_perplexity_set_names(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(HEAD + 'perplexity = ["@tokens", { data = "@tokens", window = 64, stride = 16 }, '
                      '{ data = "@tokens", window = 32 }]\n')  # fmt: skip
    config = compile_spec(spec, "/runs").step("eval").config
    assert isinstance(config, Evaluate)
    assert [s.name for s in config.perplexity_sets()] == ["tokens", "tokens_w64_s16", "tokens_w32"]
    assert [(s.window, s.stride) for s in config.perplexity_sets()] == [(None, None), (64, 16), (32, None)]


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        (
            'perplexity = [{ data = "@tokens", window = 16, stride = 32 }]\n',
            27,
            "steps.eval.perplexity[0].stride",
            "must be at most window (16), got 32",
        ),
        (
            'perplexity = ["@tokens", { data = "@tokens" }]\n',
            27,
            "steps.eval.perplexity[1]",
            "`tokens` is scored twice",
        ),
        ('perplexity = [{ data = "@model" }]\n', 27, "steps.eval.perplexity[0].data", "needs tokenized data"),
        ('lm_eval = { suite = "open_llm" }\n', 27, "steps.eval.lm_eval.suite", "did you mean `open_llm_v1`?"),
        ('lm_eval = { tasks = ["x", { name = "x" }] }\n', 27, "steps.eval.lm_eval.tasks[1]", "`x` is listed twice"),
        ("lm_eval = { num_fewshot = 2 }\n", 27, "steps.eval.lm_eval.tasks", "name at least one task, or a `suite`"),
        (
            'lm_eval = { tasks = [{ name = "x", num_fewshot = 65 }] }\n',
            27,
            "steps.eval.lm_eval.tasks[0].num_fewshot",
            "<= 64",
        ),
        (
            'lm_eval = { tasks = [{ name = "x", shots = 5 }] }\n',
            27,
            "steps.eval.lm_eval.tasks[0].shots",
            "unknown field",
        ),
        (
            'lm_eval = { tasks = [{ name = "x", data_dir = "@tokens" }] }\n',
            27,
            "steps.eval.lm_eval.tasks[0].data_dir",
            "",
        ),
        ('lm_eval = { tasks = ["lmspec_cloze"] }\n', 27, "steps.eval.lm_eval.tasks[0]", "name a tokenize step"),
    ],
)
def test_malformed_evaluate_steps(
    write_spec: Callable[..., Path], body: str, line: int, field: str, message: str
) -> None:
    [diagnostic] = diagnostics_of(write_spec(HEAD + body))
    assert (diagnostic.line, diagnostic.field) == (line, field), diagnostic
    assert message in diagnostic.message
