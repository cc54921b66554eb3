"""Spec text and `lmspec` processes that many tests share: the steps every training test starts from, and
the command line as users run it (a subprocess of this interpreter, this checkout first on the path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def tokenized(
    name: str, paths: str = "data/*.jsonl", vocab_size: int = 1024, validation_fraction: float = 0.05, tokens: str = ""
) -> str:
    """`[experiment] name` and steps `docs` (JSONL ingest of `paths`), `tok` (a BPE tokenizer) and `tokens` (with
    the extra line `tokens`, e.g. its resources)."""
    return (
        _documents(name, paths)
        + f"""
[steps.tok]
kind = "train_tokenizer"
input = "@docs"
vocab_size = {vocab_size}

[steps.tokens]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"
validation_fraction = {validation_fraction}
{tokens}
"""
    )


def tiny_train(steps: int, extra: str = "") -> str:
    """Step `model`: the tiny preset trained on `@tokens` for `steps`, a checkpoint every 5 (and the line
    `extra`, e.g. its resources): what the kill-and-resume tests interrupt."""
    return f"""
[steps.model]
kind = "train"
data = "@tokens"
model = {{ preset = "tiny" }}
optimizer = {{ lr = 3e-3 }}
steps = {steps}
batch_size = 8
checkpoint_every = 5
{extra}
"""


def filtered(name: str, paths: str = "data/*.jsonl", min_words: int = 5, method: str = "exact") -> str:
    """Steps `docs` (JSONL ingest), `long` (a length filter at `min_words`) and `unique` (dedup by `method`):
    the chain the early-cutoff tests change one threshold of."""
    return (
        _documents(name, paths)
        + f"""
[steps.long]
kind = "filter"
input = "@docs"
rules = [{{ kind = "length", min_words = {min_words} }}]

[steps.unique]
kind = "dedup"
input = "@long"
method = "{method}"
"""
    )


def _documents(name: str, paths: str) -> str:
    """`[experiment] name` and step `docs`, a JSONL ingest of `paths`."""
    return f"""
[experiment]
name = "{name}"

[steps.docs]
kind = "ingest"
paths = ["{paths}"]
format = "jsonl"
"""


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of an `lmspec` subprocess: this checkout importable, CI's settings left out."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("CI", None)
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lmspec.cli", *args]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """`lmspec ARGS` to its end, output captured; the caller judges the exit code."""
    return subprocess.run(
        cli_command(*args), cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=timeout, check=False
    )
