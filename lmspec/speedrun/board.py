"""The leaderboard of one track: every submission under a folder verified, ranked, and its Pareto frontier.

Ranked by held-out bits-per-byte (lower is better); the frontier is the submissions no other beats on both
axes at once, fewer or equal FLOPs and lower bits-per-byte: the best quality at each compute level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmspec.errors import UsageError
from lmspec.speedrun.results import RESULTS_FILE, SPEC_NAMES, Results
from lmspec.speedrun.track import load_track
from lmspec.speedrun.verify import Accepted, Rejected, verify
from lmspec.speedrun.workspace import WORKSPACE


@dataclass(frozen=True)
class Row:
    """One accepted submission on the board."""

    rank: int
    folder: Path
    results: Results
    frontier: bool


@dataclass(frozen=True)
class Board:
    track: str
    budget: float | None
    """The track's FLOPs budget; None when no submission was accepted (the track is then unknown)."""
    rows: list[Row]
    rejected: list[Rejected]


def build_board(directory: Path) -> Board:
    """Verify every submission folder under `directory` and rank the accepted ones."""
    folders = submission_folders(directory)
    if not folders:
        raise UsageError(f"{directory}: no submissions (folders holding {' or '.join(SPEC_NAMES)} or {RESULTS_FILE})")
    verdicts = _unique_names([verify(folder) for folder in folders])
    accepted = [v for v in verdicts if isinstance(v, Accepted)]
    tracks = sorted({v.results.track for v in accepted})
    if len(tracks) > 1:
        raise UsageError(
            f"{directory} holds submissions to several tracks ({', '.join(tracks)}): board one track's folder"
        )
    frontier = pareto_frontier([v.results for v in accepted])
    ranked = sorted(accepted, key=lambda v: (v.results.bits_per_byte, v.results.flops, v.results.submission.name))
    rows = [Row(i + 1, v.folder, v.results, v.results.submission.name in frontier) for i, v in enumerate(ranked)]
    budget = load_track(tracks[0]).flops_budget if tracks else None
    return Board(tracks[0] if tracks else "?", budget, rows, [v for v in verdicts if isinstance(v, Rejected)])


def _unique_names(verdicts: list[Accepted | Rejected]) -> list[Accepted | Rejected]:
    """A board names each submission once (the frontier and the plot are keyed by name): a second accepted
    submission of a name already taken, in folder order, is rejected."""
    taken: dict[str, Path] = {}
    kept: list[Accepted | Rejected] = []
    for verdict in verdicts:
        if isinstance(verdict, Accepted) and (first := taken.get(verdict.results.submission.name)) is not None:
            name = verdict.results.submission.name
            kept.append(Rejected(verdict.folder, f"the name `{name}` is already on the board ({first}): rename it"))
            continue
        if isinstance(verdict, Accepted):
            taken[verdict.results.submission.name] = verdict.folder
        kept.append(verdict)
    return kept


def submission_folders(directory: Path) -> list[Path]:
    """Folders under `directory` holding a submission's spec or results (the track's own files excepted)."""
    names = {*SPEC_NAMES, RESULTS_FILE}
    found = {
        path.parent
        for path in directory.rglob("*")
        if path.name in names and WORKSPACE not in path.relative_to(directory).parts
    }
    return sorted(found)


def pareto_frontier(results: list[Results]) -> set[str]:
    """Names of the submissions with lower bits-per-byte than every one using fewer or equal FLOPs."""
    frontier: set[str] = set()
    best = float("inf")
    for result in sorted(results, key=lambda r: (r.flops, r.bits_per_byte)):
        if result.bits_per_byte < best:
            frontier.add(result.submission.name)
            best = result.bits_per_byte
    return frontier
