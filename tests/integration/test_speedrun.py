"""`lmspec speedrun run` end to end on the tiny track (real tokenizers, MaxText on CPU, the evaluate step), twice
into separate roots: the same spec gives the same bits-per-byte, and the board accepts what it wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lmspec.speedrun.board import build_board
from lmspec.speedrun.results import read_results
from tests.support.specs import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPEC = """
[experiment]
name = "speedrun-repro"
extends = ["track/steps.toml"]

[speedrun]
track = "tiny"
name = "repro"
author = "tests"
description = "A short run, twice"

[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "tiny", num_layers = 1 }
optimizer = { lr = 3e-3 }
schedule = { kind = "cosine", warmup_steps = 5 }
steps = 30
batch_size = 4
"""


def _speedrun(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("speedrun", *args, timeout=900)


def test_the_same_submission_scores_the_same_twice(tmp_path: Path) -> None:
    scores = []
    for attempt in ("first", "second"):
        folder = tmp_path / "submissions" / attempt
        folder.mkdir(parents=True)
        (folder / "spec.toml").write_text(SPEC.replace('name = "repro"', f'name = "repro-{attempt}"'))
        done = _speedrun("run", str(folder / "spec.toml"), "--root", str(tmp_path / f"root-{attempt}"), "--quiet")
        assert done.returncode == 0, done.stdout + done.stderr
        results = read_results(folder)
        assert f"{results.bits_per_byte:.4f} ±" in done.stdout
        assert results.curve["loss"]
        assert len(results.documents) > 100
        scores.append(results)
    first, second = scores
    assert first.steps == second.steps  # the [speedrun] table is not hashed: same steps, same identities
    assert abs(first.bits_per_byte - second.bits_per_byte) < 1e-4
    board = build_board(tmp_path / "submissions")
    assert board.rejected == []
    assert len(board.rows) == 2
