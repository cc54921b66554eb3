"""`--set`/`--unset` behave exactly like editing the file; `--only`/`--until` cut the plan to what is asked."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.cli import main
from lmspec.compiler import compile_spec
from lmspec.compiler.overrides import parse_set, parse_unset
from lmspec.compiler.plan import select
from lmspec.errors import UsageError

SPEC = """
[experiment]
name = "o"

[vars]
steps = 20

[steps.docs]
kind = "ingest"
paths = ["a.jsonl"]
format = "jsonl"

[steps.clean]
kind = "filter"
input = "@docs"
rules = [{ kind = "length", min_chars = 3 }, { kind = "compression_ratio", min = 0.1, max = 0.9 }]

[steps.tok]
kind = "train_tokenizer"
input = "@clean"

[steps.tokens]
kind = "tokenize"
input = "@clean"
tokenizer = "@tok"

[steps.model]
kind = "train"
data = "@tokens"
steps = "${vars.steps}"
batch_size = 2
optimizer = { lr = 1e-3, weight_decay = 0.1 }
resources = { accelerator = "cpu" }

[steps.side]
kind = "dedup"
input = "@docs"
method = "exact"
"""


def plan_of(spec: Path, *overrides: str) -> dict[str, str]:
    parsed = tuple(parse_unset(o[8:]) if o.startswith("--unset ") else parse_set(o) for o in overrides)
    return {s.name: s.hash for s in compile_spec(spec, "/runs", parsed).steps}


def test_an_override_gives_the_plan_of_the_edited_file(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(SPEC)
    overridden = plan_of(
        spec,
        "steps.model.optimizer.lr=3e-3",
        "vars.steps=40",
        "steps.clean.rules.1.max=0.8",
        "steps.model.optimizer.name=adamw",
        "--unset steps.model.optimizer.weight_decay",
    )
    edited = write_spec(
        SPEC.replace("lr = 1e-3, weight_decay = 0.1", 'lr = 3e-3, name = "adamw"')
        .replace("steps = 20", "steps = 40")
        .replace("max = 0.9", "max = 0.8"),
        "edited.toml",
    )
    assert overridden == plan_of(edited)
    assert overridden != plan_of(spec)


def test_an_execution_only_override_keeps_every_hash(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(SPEC)
    assert plan_of(spec, 'steps.model.resources.accelerator="gpu"', "steps.model.workers=2") == plan_of(spec)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (
            "steps.model.optimzer.lr=1e-3",
            "--set steps.model.optimzer.lr: error: unknown field `optimzer`; did you mean `optimizer`?",
        ),
        ("steps.model.steps=fast", '--set steps.model.steps: error: expected an integer, got "fast"'),
        ("steps.clean.rules.5.max=0.8", "--set steps.clean.rules.5.max: error: `steps.clean.rules.5`: the list has 2"),
        ("--unset steps.model.optimizer.beta", "--unset steps.model.optimizer.beta: error: `beta` is not set here"),
    ],
)
def test_bad_overrides_name_the_flag(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str], flag: str, message: str
) -> None:
    spec = write_spec(SPEC)
    args = ["--unset", flag.removeprefix("--unset ")] if flag.startswith("--unset ") else ["--set", flag]
    assert main(["validate", str(spec), *args]) == 1
    assert message in capsys.readouterr().out


def test_a_malformed_set_is_a_usage_error(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(SPEC)
    with pytest.raises(SystemExit) as exit_:
        main(["validate", str(spec), "--set", "steps.model.steps"])
    assert exit_.value.code == 2
    assert "expected PATH=VALUE" in capsys.readouterr().err


def test_compile_shows_and_records_the_overrides(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(SPEC)
    assert main(["compile", str(spec), "--root", "/runs", "--set", "steps.model.steps=30", "--format", "text"]) == 0
    assert "overrides: --set steps.model.steps=30" in capsys.readouterr().out


def test_only_and_until_keep_the_steps_and_what_they_need(write_spec: Callable[..., Path]) -> None:
    plan = compile_spec(write_spec(SPEC), "/runs")
    assert [s.name for s in select(plan, only=("tok*",)).steps] == ["docs", "clean", "tok", "tokens"]
    assert [s.name for s in select(plan, only=("tok",)).steps] == ["docs", "clean", "tok"]
    assert [s.name for s in select(plan, until=("tokens",)).steps] == ["docs", "clean", "tok", "tokens"]
    assert [s.name for s in select(plan, only=("side", "tok")).steps] == ["docs", "clean", "tok", "side"]
    assert {s.name: s.hash for s in select(plan, only=("model",)).steps} == {
        s.name: s.hash for s in plan.steps if s.name != "side"
    }
    with pytest.raises(UsageError, match=re.escape("`modle` matches no step of this plan; did you mean `model`?")):
        select(plan, only=("modle",))
