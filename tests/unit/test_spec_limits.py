"""Hostile or odd spec files get one clear, located error: never a crash, a hang or a wrong "valid"."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.compiler.sources import EMPTY_SPEC, MAX_DEPTH
from tests.conftest import diagnostics_of

HEAD = '[experiment]\nname = "x"\n\n[steps.raw]\nkind = "ingest"\nformat = "jsonl"\n'


def one(path: Path) -> tuple[int, int, str, str]:
    [found] = diagnostics_of(path)
    return found.line, found.col, found.field, found.message


def test_deep_nesting_is_refused_where_it_passes_the_limit(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(HEAD + "paths = " + "[" * 3000 + "]" * 3000 + "\n")
    assert one(spec) == (7, 9 + MAX_DEPTH, "", f"nested more than {MAX_DEPTH} levels deep; a spec never needs that")


def test_yaml_alias_bomb_stops_early(write_spec: Callable[..., Path]) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    spec = write_spec("\n".join(lines) + "\n", "bomb.yaml")
    started = time.perf_counter()
    assert one(spec)[3] == "YAML aliases expand to more than 100,000 values (an alias bomb?)"
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(("name", "text"), [("empty.toml", ""), ("notes.toml", "# only\n\n"), ("empty.yaml", "")])
def test_empty_files_agree(write_spec: Callable[..., Path], name: str, text: str) -> None:
    assert one(write_spec(text, name)) == (1, 1, "", EMPTY_SPEC)


def test_integers_past_64_bits_are_errors_at_their_value(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(HEAD + 'paths = ["a"]\nmax_documents = 1180591620717411303424\n')
    assert one(spec) == (8, 17, "steps.raw.max_documents", "integer does not fit in 64 bits")


def test_a_bad_byte_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.toml").write_bytes(HEAD.encode() + b"# caf\xe9\n")
    assert one(Path("spec.toml"))[:2] == (7, 6)


def test_a_reference_where_paths_are_expected(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(HEAD + 'paths = ["a.jsonl", "@raw"]\n')
    line, col, field, message = one(spec)
    assert (line, col, field) == (7, 21, "steps.raw.paths[1]")
    assert message.startswith("`paths` takes files, globs or URLs, not a step reference")


def test_extends_a_directory_or_a_broken_file(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    spec = write_spec('[experiment]\nname = "x"\nextends = ["base"]\n')
    assert one(spec)[3].startswith("`base` is a directory")
    write_spec('[steps.raw]\nkind = "ingest"\npaths = ["a"]\nformat = "nope"\n', "base/model.toml")
    spec = write_spec('[experiment]\nname = "x"\nextends = ["base/model.toml"]\n')
    assert one(spec) == (
        4,
        10,
        "steps.raw.format",
        'expected one of "warc", "jsonl", "parquet", "text", "huggingface", "chat", "preference", got "nope"'
        " (in a file extended at spec.toml:3)",
    )


TRAIN = (
    '[steps.tok]\nkind = "tokenize"\ninput = "@raw"\ntokenizer = "t"\n\n'
    '[steps.model]\nkind = "train"\ndata = "@tok"\nsteps = 10\nbatch_size = 2\n'
)
"""Lines 8-17 after HEAD + `paths` (line 7)."""


MESSAGES: list[tuple[str, str, str, tuple[int, int, str, str]]] = [
    (
        "mixture weight alone, not 'expected a string'",
        HEAD + 'paths = ["a"]\n' + TRAIN.replace('data = "@tok"', 'data = { "@tok" = -1 }'),
        "spec.toml",
        (15, 19, 'steps.model.data."@tok"', "expected a number > 0.0, got -1"),
    ),
    (
        "nan",
        HEAD + 'paths = ["a"]\n' + TRAIN + "optimizer = { lr = nan }\n",
        "spec.toml",
        (18, 20, "steps.model.optimizer.lr", "expected a finite number, got nan"),
    ),
    (
        "sweep over a missing field points at the sweep key",
        HEAD + 'paths = ["a"]\n' + TRAIN + '\n[sweep]\n"steps.model.optimizer.lrr" = [1, 2]\n',
        "spec.toml",
        (20, 1, "steps.model.optimizer.lrr", "unknown field `lrr`; did you mean `lr`?"),
    ),
    (
        "a misspelled preset alone, not 'expected a number >= 1 or ...'",
        HEAD + 'paths = ["a"]\n' + TRAIN + 'model = { preset = "tinyy" }\n',
        "spec.toml",
        (
            18,
            20,
            "steps.model.model.preset",
            'expected one of "tiny", "small", "base", "150m", "1b", "8b", got "tinyy"; did you mean `tiny`?',
        ),
    ),
    (
        "a batch no engine takes",
        HEAD + 'paths = ["a"]\n' + TRAIN.replace("batch_size = 2", "batch_size = 4611686018427387904"),
        "spec.toml",
        (17, 14, "steps.model.batch_size", "expected a number <= 1048576, got 4611686018427387904"),
    ),
    (
        "a TOML date as written",
        HEAD.replace('name = "x"\n', 'name = "x"\ndescription = 1979-05-27\n') + 'paths = ["a"]\n',
        "spec.toml",
        (3, 15, "experiment.description", "expected a string, got the date 1979-05-27"),
    ),
    (
        "a non-ASCII step name unescaped",
        HEAD.replace("[steps.raw]", '[steps."café"]') + 'paths = ["a"]\n',
        "spec.toml",
        (
            4,
            8,
            'steps."café"',
            'expected a step name: a lowercase letter, then lowercase letters, digits or _, got "café"',
        ),
    ),
    (
        "a table named as written",
        "[x]\n[x]\n",
        "spec.toml",
        (2, 3, "", "TOML syntax error: cannot declare [x] twice"),
    ),
    (
        "an unclosed YAML bracket names where it opened",
        "a: [1,\nb: 2\n",
        "spec.yaml",
        (
            3,
            1,
            "",
            "YAML syntax error: expected ',' or ']', but got '<stream end>'"
            " (while parsing a flow sequence that starts at line 1, column 4)",
        ),
    ),
    (
        "a Python tag on a sequence is refused, not dropped",
        "experiment: {name: x}\nsteps:\n  raw:\n    kind: ingest\n    format: jsonl\n"
        '    paths: !!python/object/apply:os.system ["echo hi"]\n',
        "spec.yaml",
        (6, 12, "", "unsupported YAML tag `!!python/object/apply:os.system`: a spec holds plain data"),
    ),
]


@pytest.mark.parametrize(("case", "text", "name", "expected"), MESSAGES, ids=[m[0] for m in MESSAGES])
def test_precise_messages(
    write_spec: Callable[..., Path], case: str, text: str, name: str, expected: tuple[int, int, str, str]
) -> None:
    assert one(write_spec(text, name)) == expected, case


def test_a_runner_is_named_from_the_allow_list(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(HEAD + 'paths = ["a"]\nrunner = { name = "tempfile.mkdtemp" }\n')
    line, col, field, message = one(spec)
    assert (line, col, field) == (8, 19, "steps.raw.runner.name")
    assert message.startswith("unknown Beam runner `tempfile.mkdtemp` (an import path is not accepted")
    spec = write_spec(HEAD + 'paths = ["a"]\nrunner = { name = "DaskRunner", options = { dask_adress = "x" } }\n')
    assert one(spec)[2:] == (
        "steps.raw.runner.options.dask_adress",
        "`DaskRunner` takes no option `dask_adress`; did you mean `dask_client_address`?",
    )


def test_settings_that_start_processes_are_named() -> None:
    from lmspec.schemas.beam_runners import process_reasons

    assert process_reasons("FnApiRunner", {"direct_num_workers": 2}) == []
    assert process_reasons("PortableRunner", {"job_endpoint": "embed", "environment_type": "PROCESS"}) == [
        "`job_endpoint = 'embed'` starts a process on this machine",
        "`environment_type = 'PROCESS'` starts a process on this machine",
    ]
    assert process_reasons("PortableRunner", {"job_endpoint": "localhost:8099", "environment_type": "EXTERNAL"}) == []
    assert process_reasons("FlinkRunner", {}) == ["FlinkRunner starts a Java job server on this machine"]


SYNTAX_ERRORS = [
    ("spec.toml", "a = 1\na = 2\n"),
    ("spec.toml", "[x]\n[x]\n"),
    ("spec.toml", 'a = [1, "x"\n'),
    ("spec.toml", 'a = """\nx\n'),
    ("spec.toml", "a = {b = 1,}\n"),
    ("spec.toml", "a = 1e\n"),
    ("spec.toml", "a.b.c = 1\na.b = 2\n"),
    ("spec.toml", "= 1\n"),
    ("spec.yaml", "a: [1,\nb: 2\n"),
    ("spec.yaml", 'a: "x\n'),
    ("spec.yaml", "a:\n\t- b\n"),
    ("spec.yaml", "a: b: c\n"),
]


@pytest.mark.parametrize(("name", "text"), SYNTAX_ERRORS)
def test_syntax_errors_read_as_sentences(write_spec: Callable[..., Path], name: str, text: str) -> None:
    """Parser messages are reworded, never stuttered ("at at column") nor left with Python reprs."""
    line, col, _, message = one(write_spec(text, name))
    assert line >= 1
    assert col >= 1
    for word in message.split():
        assert f" {word} {word} " not in f" {message} ", message
    assert "(at line" not in message
    assert "('" not in message
