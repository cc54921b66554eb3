"""Expansion: extends (relative paths, deep merge, this file wins), vars (typed), sweeps (shared upstream)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lmspec.compiler import compile_spec
from tests.conftest import diagnostics_of

BASE = """
[vars]
seq_len = 64

[steps.docs]
kind = "ingest"
paths = ["a.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@docs"
vocab_size = 512

[steps.tokens]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"

[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "tiny", seq_len = "${vars.seq_len}" }
optimizer = { lr = 1e-3, weight_decay = 0.1 }
steps = 10
batch_size = 2
"""


def test_extends_is_relative_to_the_including_file_and_this_file_wins(write_spec: Callable[..., Path]) -> None:
    write_spec(BASE, "shared/base/model.toml")
    spec = write_spec(
        """
        [experiment]
        name = "child"
        extends = ["base/model.toml"]

        [vars]
        seq_len = 32

        [steps.model]
        optimizer = { lr = 5e-3 }
        """,
        "shared/child.toml",
    )
    plan = compile_spec(spec, "/runs")
    model = plan.step("model").config
    assert model.optimizer.lr == 5e-3  # type: ignore[attr-defined]
    assert model.optimizer.weight_decay == 0.1  # type: ignore[attr-defined]  # deep merge kept the base's
    assert model.model.seq_len == 32  # type: ignore[attr-defined]  # this file's var won
    assert [s.name for s in plan.steps] == ["docs", "tok", "tokens", "model"]


def test_errors_in_an_extended_file_point_into_that_file(write_spec: Callable[..., Path]) -> None:
    write_spec(BASE.replace("batch_size = 2", "batch_size = 0"), "base.toml")
    found = diagnostics_of(write_spec('[experiment]\nname = "c"\nextends = ["base.toml"]\n'))
    assert [(d.file, d.line, d.field) for d in found] == [("base.toml", 25, "steps.model.batch_size")]


def test_missing_extends_file_and_extends_cycle(write_spec: Callable[..., Path]) -> None:
    missing = write_spec('[experiment]\nname = "c"\nextends = ["nope.toml"]\n', "a.toml")
    [d] = diagnostics_of(missing)
    assert (d.line, d.col, d.field) == (3, 12, "experiment.extends[0]")
    assert "extended file not found: nope.toml" in d.message

    write_spec('[experiment]\nextends = ["c.toml"]\n', "b.toml")
    cyclic = write_spec('[experiment]\nname = "c"\nextends = ["b.toml"]\n', "c.toml")
    messages = [d.message for d in diagnostics_of(cyclic)]
    assert "extends cycle: c.toml -> b.toml -> c.toml (in a file extended at c.toml:3)" in messages


def test_whole_string_var_keeps_its_type_and_partial_var_is_text(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        '[experiment]\nname = "v"\n\n[vars]\nn = 7\nfmt = "jsonl"\n\n'
        '[steps.docs]\nkind = "ingest"\npaths = ["part-${vars.n}.${vars.fmt}", "$${literal}"]\n'
        'format = "${vars.fmt}"\nmax_documents = "${vars.n}"\n'
    )
    docs = compile_spec(spec, "/runs").step("docs").config
    assert docs.max_documents == 7  # type: ignore[attr-defined]
    assert docs.paths == ["part-7.jsonl", "${literal}"]  # type: ignore[attr-defined]


def test_sweep_makes_one_step_per_point_and_shares_upstream(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        '[experiment]\nname = "s"\n' + BASE + '\n[sweep]\n"steps.model.optimizer.lr" = [1e-3, 3e-3]\n'
        '"steps.tok.vocab_size" = [256, 512]\n'
    )
    plan = compile_spec(spec, "/runs")
    names = [s.name for s in plan.steps]
    assert names.count("docs") == 1
    assert sorted(n for n in names if n.startswith("tok_")) == ["tok_vocab_size_256", "tok_vocab_size_512"]
    models = sorted(n for n in names if n.startswith("model"))
    assert models == [
        "model_lr_0p001_vocab_size_256",
        "model_lr_0p001_vocab_size_512",
        "model_lr_0p003_vocab_size_256",
        "model_lr_0p003_vocab_size_512",
    ]
    step = plan.step("model_lr_0p003_vocab_size_256")
    assert step.config.optimizer.lr == 3e-3  # type: ignore[attr-defined]
    assert step.inputs == ("tokens_vocab_size_256",)
    assert len({plan.step(m).hash for m in models}) == 4


def test_sweep_point_identical_to_the_unswept_spec_has_its_hash(write_spec: Callable[..., Path]) -> None:
    plain = compile_spec(write_spec('[experiment]\nname = "s"\n' + BASE, "plain.toml"), "/runs")
    swept = compile_spec(
        write_spec('[experiment]\nname = "s"\n' + BASE + '\n[sweep]\n"steps.model.optimizer.lr" = [1e-3, 2e-3]\n'),
        "/runs",
    )
    assert swept.step("model_lr_0p001").hash == plain.step("model").hash
    assert swept.step("docs").hash == plain.step("docs").hash
