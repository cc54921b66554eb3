"""`lmspec speedrun board`: the committed reference submissions verified and ranked, and tampered ones rejected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmspec.cli import main
from lmspec.speedrun.board import build_board, pareto_frontier
from lmspec.speedrun.results import RESULTS_FILE, Results, read_results, spec_sha256, write_results
from lmspec.speedrun.verify import Accepted, Rejected, verify
from tests.conftest import REPO

REFERENCES = REPO / "speedrun" / "tiny"
NAMES = ("baseline", "cosine", "zloss")


@pytest.fixture
def board_dir(tmp_path: Path) -> Path:
    """The committed reference submissions (spec and results only), copied so verifying writes nothing in the repo."""
    for name in NAMES:
        (tmp_path / name).mkdir()
        for file in ("spec.toml", RESULTS_FILE):
            shutil.copy(REFERENCES / name / file, tmp_path / name / file)
    return tmp_path


def _edit(folder: Path, **fields: object) -> None:
    """Change fields of a results file by hand, leaving its digest as it was."""
    path = folder / RESULTS_FILE
    body = json.loads(path.read_text())
    body.update(fields)
    path.write_text(json.dumps(body))


def test_reference_board_has_the_expected_order_and_frontier(board_dir: Path) -> None:
    board = build_board(board_dir)
    assert board.rejected == []
    assert board.track == "tiny"
    assert [row.results.submission.name for row in board.rows] == ["zloss", "cosine", "baseline"]
    assert {row.results.submission.name for row in board.rows if row.frontier} == {"zloss", "cosine"}
    bpb = [row.results.bits_per_byte for row in board.rows]
    assert bpb == sorted(bpb)


def test_reference_results_are_consistent_with_their_specs() -> None:
    for name in NAMES:
        results = read_results(REFERENCES / name)
        assert results.spec_text == (REFERENCES / name / "spec.toml").read_text()
        assert results.flops <= 2e12
        assert results.curve["loss"][-1][1] < results.curve["loss"][0][1]


def test_a_hand_edited_bits_per_byte_is_rejected(board_dir: Path) -> None:
    _edit(board_dir / "baseline", bits_per_byte=0.1)
    verdict = verify(board_dir / "baseline")
    assert isinstance(verdict, Rejected)
    assert "edited after `lmspec speedrun run` wrote it" in verdict.reason


def test_a_resealed_bits_per_byte_is_rejected_by_its_document_scores(board_dir: Path) -> None:
    folder = board_dir / "baseline"
    results = read_results(folder)
    write_results(folder, results.model_copy(update={"bits_per_byte": 0.1}))
    verdict = verify(folder)
    assert isinstance(verdict, Rejected)
    assert "bits_per_byte is 0.100000, but its 179 per-document scores give" in verdict.reason


def test_a_spec_changed_after_its_run_is_rejected(board_dir: Path) -> None:
    spec = board_dir / "cosine" / "spec.toml"
    spec.write_text(spec.read_text().replace("steps = 200", "steps = 100"))
    verdict = verify(board_dir / "cosine")
    assert isinstance(verdict, Rejected)
    assert "not the spec the results were produced from" in verdict.reason


def test_results_claiming_another_spec_are_rejected(board_dir: Path) -> None:
    """Spec and results edited together, consistently: the spec no longer compiles to the recorded hashes."""
    folder = board_dir / "cosine"
    text = (folder / "spec.toml").read_text().replace("lr = 3e-3", "lr = 2e-3")
    (folder / "spec.toml").write_text(text)
    results = read_results(folder)
    write_results(folder, results.model_copy(update={"spec_text": text, "spec_sha256": spec_sha256(text)}))
    verdict = verify(folder)
    assert isinstance(verdict, Rejected)
    assert "compiles to other step hashes than the results record (model" in verdict.reason


def test_an_over_budget_submission_is_rejected(board_dir: Path) -> None:
    folder = board_dir / "zloss"
    text = (folder / "spec.toml").read_text().replace("steps = 400", "steps = 800")
    (folder / "spec.toml").write_text(text)
    results = read_results(folder)
    write_results(folder, results.model_copy(update={"spec_text": text, "spec_sha256": spec_sha256(text)}))
    verdict = verify(folder)
    assert isinstance(verdict, Rejected)
    assert "steps.model.steps: over the tiny track's budget" in verdict.reason


def test_the_board_lists_rejected_submissions_with_reasons(board_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(board_dir / "baseline", bits_per_byte=0.1)
    out = board_dir / "out"
    assert main(["speedrun", "board", str(board_dir), "--output", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "| 1 | zloss |" in printed
    assert "| 2 | cosine |" in printed
    assert "Rejected:" in printed
    assert "- `baseline`: " in printed
    assert (out / "board.png").read_bytes().startswith(b"\x89PNG")
    page = (out / "board.html").read_text()
    assert "<td>zloss</td>" in page
    assert "<h2>Rejected</h2>" in page


def test_a_submission_without_results_is_rejected(board_dir: Path) -> None:
    (board_dir / "baseline" / RESULTS_FILE).unlink()
    board = build_board(board_dir)
    assert [r.folder.name for r in board.rejected] == ["baseline"]
    assert "no results file" in board.rejected[0].reason


def test_accepted_verdicts_carry_the_results(board_dir: Path) -> None:
    verdict = verify(board_dir / "zloss")
    assert isinstance(verdict, Accepted)
    assert verdict.results.submission.name == "zloss"


def test_the_frontier_keeps_the_best_quality_at_each_compute(board_dir: Path) -> None:
    base = read_results(board_dir / "baseline")

    def point(name: str, flops: float, bpb: float) -> Results:
        entry = base.submission.model_copy(update={"name": name})
        return base.model_copy(update={"submission": entry, "flops": flops, "bits_per_byte": bpb})

    points = [
        point("a", 1e11, 0.5),
        point("b", 1e12, 0.6),
        point("c", 1e12, 0.4),
        point("d", 2e12, 0.45),
        point("e", 3e12, 0.3),
    ]
    assert pareto_frontier(points) == {"a", "c", "e"}


def test_a_second_submission_of_a_taken_name_is_rejected(board_dir: Path) -> None:
    shutil.copytree(board_dir / "cosine", board_dir / "cosine-again")
    board = build_board(board_dir)
    assert [row.results.submission.name for row in board.rows] == ["zloss", "cosine", "baseline"]
    [rejected] = board.rejected
    assert rejected.folder == board_dir / "cosine-again"
    assert "the name `cosine` is already on the board" in rejected.reason
