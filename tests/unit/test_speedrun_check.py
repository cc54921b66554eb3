"""`lmspec speedrun check`: tracks, the generated corpus, and every rule a submission can break, through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lmspec.cli import main
from lmspec.speedrun.corpus import stories
from lmspec.speedrun.track import load_track, track_names
from lmspec.speedrun.workspace import corpus_key, file_sha256, prepare
from tests.conftest import REPO

REFERENCES = REPO / "speedrun" / "tiny"

HEADER = """
[experiment]
name = "entry"
extends = ["track/steps.toml"]

[speedrun]
track = "tiny"
name = "entry"
author = "tester"
description = "a test submission"
"""

MODEL = """
[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "tiny" }
steps = 100
batch_size = 8
"""


def _check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Write `text` as a submission and check it; (exit code, what it printed)."""
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    code = main(["speedrun", "check", str(spec)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_every_track_loads_and_names_its_steps() -> None:
    assert track_names() == ["150m", "1b", "tiny"]
    for name in track_names():
        track = load_track(name)
        steps = track.fixed_steps()
        assert track.eval_step in steps
        assert steps[track.eval_step]["model"] == f"@{track.model_step}"
        assert track.data.removeprefix("@") in steps


def test_the_tiny_corpus_is_generated_as_pinned(tmp_path: Path) -> None:
    track = load_track("tiny")
    assert track.corpus is not None
    prepare(tmp_path, track)
    assert file_sha256(tmp_path / corpus_key(track.corpus)) == track.corpus.sha256
    texts = stories(track.corpus.seed, track.corpus.documents)
    assert len(set(texts)) == len(texts), "held-out documents must never repeat a training one"


def test_a_tampered_corpus_file_is_made_again(tmp_path: Path) -> None:
    track = load_track("tiny")
    assert track.corpus is not None
    prepare(tmp_path, track)
    corpus = tmp_path / corpus_key(track.corpus)
    corpus.write_text('{"text": "my own data"}\n')
    prepare(tmp_path, track)
    assert file_sha256(corpus) == track.corpus.sha256


@pytest.mark.parametrize("name", ["baseline", "cosine", "zloss"])
def test_reference_submissions_pass(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(REFERENCES / name / "spec.toml", tmp_path / "spec.toml")
    assert main(["speedrun", "check", str(tmp_path / "spec.toml")]) == 0
    assert "a valid submission to the tiny track" in capsys.readouterr().out


def test_over_budget_is_refused_at_its_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(tmp_path, HEADER + MODEL.replace("steps = 100", "steps = 2000"), capsys)
    assert code == 1
    assert "spec.toml:16:9: error: steps.model.steps: over the tiny track's budget" in out
    assert "9.67e+12 FLOPs" in out
    assert "the budget is 2.00e+12 FLOPs" in out


def test_changing_the_tracks_data_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changed = HEADER + "\n[steps.tokens]\nvalidation_fraction = 0.2\n" + MODEL
    code, out = _check(tmp_path, changed, capsys)
    assert code == 1
    assert "steps.tokens.validation_fraction: changes the track's data" in out
    assert "config.validation_fraction: 0.1 -> 0.2" in out


def test_a_copy_of_the_steps_reading_other_data_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without `extends`: the fixed steps written out, the corpus swapped for the submitter's own file."""
    prepare(tmp_path, load_track("tiny"))
    (tmp_path / "mine.jsonl").write_text('{"text": "easy text"}\n' * 50)
    steps = (tmp_path / "track" / "steps.toml").read_text().replace("track/data/corpus.jsonl", "mine.jsonl")
    code, out = _check(tmp_path, HEADER.replace('extends = ["track/steps.toml"]', "") + steps + MODEL, capsys)
    assert code == 1
    assert "steps.corpus.paths[0]: changes the track's data" in out


def test_changing_the_evaluation_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changed = HEADER + '\n[steps.eval]\nperplexity = [{ data = "@tokens", window = 64 }]\n' + MODEL
    code, out = _check(tmp_path, changed, capsys)
    assert code == 1
    assert "steps.eval.perplexity[0]: changes the track's evaluation" in out


def test_training_on_other_data_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = '\n[steps.more]\nkind = "tokenize"\ninput = "@corpus"\ntokenizer = "@tokenizer"\nseed = 1\n'
    code, out = _check(tmp_path, HEADER + extra + MODEL.replace('data = "@tokens"', 'data = "@more"'), capsys)
    assert code == 1
    assert "steps.more: a submission adds one training step to the track's steps, nothing else" in out
    assert 'steps.model.data: the tiny track trains on its own data: set data = "@tokens"' in out


def test_two_training_steps_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(tmp_path, HEADER + MODEL + MODEL.replace("steps.model]", "steps.model2]"), capsys)
    assert code == 1
    assert "steps.model2: a submission trains one model, but `model`, `model2` are training steps" in out


def test_another_hardware_class_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(tmp_path, HEADER + MODEL + 'resources = { accelerator = "gpu" }\n', capsys)
    assert code == 1
    assert "steps.model.resources: the tiny track runs on cpu" in out


def test_an_unknown_track_is_named_with_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(tmp_path, HEADER.replace('track = "tiny"', 'track = "tinny"') + MODEL, capsys)
    assert code == 1
    assert "spec.toml:7:9: error: speedrun.track: unknown track `tinny`; did you mean `tiny`?" in out
    assert "(tracks: 150m, 1b, tiny)" in out


def test_missing_speedrun_fields_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(tmp_path, HEADER.replace('author = "tester"\n', "") + MODEL, capsys)
    assert code == 1
    assert "spec.toml:6:2: error: speedrun.author: missing required field `author`" in out


def test_a_spec_without_a_speedrun_table_is_told_what_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _check(tmp_path, HEADER.split("[speedrun]")[0] + MODEL, capsys)
    assert code == 1
    assert "error: speedrun: a speedrun submission needs a [speedrun] table: track, name, author, description" in out


@pytest.mark.parametrize(("track", "preset", "steps"), [("150m", "150m", 10_000), ("1b", "1b", 40_000)])
def test_gpu_tracks_take_a_submission_of_their_size(
    track: str,
    preset: str,
    steps: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LMSPEC_OFFLINE", "1")  # the Hub corpus is then fingerprinted as unreachable
    model = MODEL.replace('preset = "tiny"', f'preset = "{preset}"').replace("steps = 100", f"steps = {steps}")
    model = model.replace("batch_size = 8", 'batch_size = 256\nresources = { accelerator = "gpu", type = "h100" }')
    code, out = _check(tmp_path, HEADER.replace('track = "tiny"', f'track = "{track}"') + model, capsys)
    assert code == 0, out
    assert f"a valid submission to the {track} track" in out


def test_a_link_that_is_not_http_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The board links `url`: a `javascript:` link in a pull request's folder must not reach its HTML."""
    code, out = _check(
        tmp_path, HEADER.replace('author = "', 'url = "javascript:alert(1)"\nauthor = "') + MODEL, capsys
    )
    assert code == 1
    assert "speedrun.url" in out


def test_a_submission_without_the_tracks_steps_is_told_to_extend_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _check(tmp_path, HEADER.replace('extends = ["track/steps.toml"]\n', "") + MODEL, capsys)
    assert code == 1
    assert "spec.toml:2:2: error: experiment.extends: a submission builds on its track's steps: add extends" in out


def test_a_linked_track_folder_is_refused_not_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request's folder may hold links; `check` would otherwise overwrite what they point at."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "steps.toml").write_text("precious\n")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "track").symlink_to(target)
    code, out = _check(submission, HEADER + MODEL, capsys)
    assert code == 2
    assert "is a symbolic link" in out
    assert (target / "steps.toml").read_text() == "precious\n"
