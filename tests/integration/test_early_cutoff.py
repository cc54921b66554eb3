"""Early cutoff and the shared cache, on real engines (Beam filter and dedup, HF tokenizers, tokenize).

A filter threshold that keeps exactly the same documents re-runs the filter alone: its dependents find an
earlier output with the same settings over the same input bytes and reuse it. A threshold that changes the
documents re-runs them. A second root given the first as `--cache` executes nothing.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from tests.support.specs import filtered, run_cli

pytestmark = pytest.mark.integration

TOKENIZED = """
[steps.tokenizer]
kind = "train_tokenizer"
input = "@unique"
vocab_size = 300

[steps.tokens]
kind = "tokenize"
input = "@unique"
tokenizer = "@tokenizer"
validation_fraction = 0.1
"""
DEPENDENTS = ("unique", "tokenizer", "tokens")


def _documents(folder: Path) -> None:
    """Documents of 3 or 6+ words (none of 4 or 5), a few repeated, over two files."""
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
    rng = random.Random(0)
    for part in range(2):
        lines = []
        for i in range(150):
            length = 3 if i % 4 == 0 else rng.randint(6, 12)
            lines.append(json.dumps({"id": f"{part}-{i}", "text": " ".join(rng.choices(words, k=length))}))
        lines += lines[:10]
        (folder / f"part{part}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    _documents(tmp_path / "data")
    _spec(tmp_path, min_words=4)
    return tmp_path


def _spec(folder: Path, min_words: int) -> None:
    (folder / "spec.toml").write_text(filtered("cutoff", min_words=min_words) + TOKENIZED)


def _lmspec(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(*args, cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _run(folder: Path, root: str = "runs", *args: str) -> dict[str, str]:
    """Step name -> how this run ended it (done, reused, cached), from its progress lines."""
    done = _lmspec(folder, "run", "spec.toml", "--root", root, "--quiet", *args)
    states = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in ("done", "reused"):
            states[parts[2]] = parts[1]
    return states


def _statuses(folder: Path) -> dict[str, str]:
    plan = json.loads(_lmspec(folder, "compile", "spec.toml", "--root", "runs", "--format", "json").stdout)
    return {step["name"]: step["status"] for step in plan["steps"]}


def _output(folder: Path, step: str, root: str = "runs") -> Path:
    plan = json.loads(_lmspec(folder, "compile", "spec.toml", "--root", root, "--format", "json").stdout)
    return Path(next(s["output_path"] for s in plan["steps"] if s["name"] == step))


def test_same_bytes_upstream_reuses_dependents_and_other_bytes_rerun_them(folder: Path) -> None:
    assert set(_run(folder).values()) == {"done"}
    first = {step: _output(folder, step) for step in DEPENDENTS}

    _spec(folder, min_words=5)  # no document has 4 or 5 words: the filter keeps the same ones
    statuses = _statuses(folder)
    assert statuses["long"] == "pending"
    assert {statuses[step] for step in DEPENDENTS} == {"if-inputs-change"}
    assert _run(folder) == {"long": "done", **dict.fromkeys(DEPENDENTS, "reused")}
    for step in DEPENDENTS:
        again = _output(folder, step)
        assert again != first[step]
        record = json.loads((again / "lmspec-step.json").read_text())
        assert record["reused"] == {"source": str(first[step]), "reason": "early cutoff", "placement": "linked"}
        log = (again / "lmspec-step.log").read_text()
        assert "reused (early cutoff)" in log
    tokens = next(_output(folder, "tokens").glob("train-*"))
    assert os.stat(tokens).st_ino == os.stat(next(first["tokens"].glob("train-*"))).st_ino

    _spec(folder, min_words=8)  # drops documents: every dependent runs
    assert _run(folder) == {"long": "done", **dict.fromkeys(DEPENDENTS, "done")}


def test_forced_steps_execute_instead_of_reusing(folder: Path) -> None:
    _run(folder)
    _spec(folder, min_words=5)
    assert _run(folder, "runs", "--force", "unique") == {"long": "done", **dict.fromkeys(DEPENDENTS, "done")}


@pytest.mark.parametrize(("url", "placement"), [(False, "linked"), (True, "copied")])
def test_second_root_reuses_the_first_through_the_cache(folder: Path, url: bool, placement: str) -> None:
    """A folder is hard-linked from; an fsspec URL (`file://` here, `gs://` for a team) is copied from."""
    _run(folder, "first")
    cache = f"file://{folder / 'first'}" if url else str(folder / "first")
    shared = _run(folder, "second", "--cache", cache)
    assert shared == dict.fromkeys(["docs", "long", *DEPENDENTS], "reused")
    for step in ("docs", *DEPENDENTS):
        output = _output(folder, step, "second")
        record = json.loads((output / "lmspec-step.json").read_text())
        source = _output(folder, step, "first")
        assert record["reused"] == {
            "source": f"file://{source}" if url else str(source),
            "reason": "shared cache",
            "placement": placement,
        }
        assert record["content"] == json.loads((source / "lmspec-step.json").read_text())["content"]
        assert record["end"]["counts"] == json.loads((source / "lmspec-step.json").read_text())["end"]["counts"]
    assert _run(folder, "second") == {}  # now plainly cached under its own root


def test_cache_folder_must_exist(folder: Path) -> None:
    done = run_cli("run", "spec.toml", "--root", "runs", "--cache", "nowhere", cwd=folder)
    assert done.returncode == 2
    assert "--cache nowhere: no such folder" in done.stderr
    assert "Traceback" not in done.stderr
