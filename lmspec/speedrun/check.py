"""`lmspec speedrun check SPEC`: a submission validated against its track, every problem at its file and line.

First the `[speedrun]` table alone (read from the file as written: it names the track, whose files must be
beside the spec before the spec can even be expanded), then the track's files are written beside the spec,
then the spec is compiled as `lmspec compile` would, then the track's rules are applied to the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lmspec.compiler import compile_spec
from lmspec.compiler.estimates import TrainEstimate, train_estimates
from lmspec.compiler.expand import expand
from lmspec.compiler.hardware import load_prices
from lmspec.compiler.plan import Plan
from lmspec.compiler.pydantic_errors import diagnostics_from_errors
from lmspec.compiler.sources import Document, load_document
from lmspec.errors import Diagnostic, SpecError
from lmspec.schemas.experiment import SpeedrunEntry
from lmspec.speedrun.rules import (
    TRACK_STEPS,
    budget_problems,
    data_problems,
    fixed_step_problems,
    training_problems,
)
from lmspec.speedrun.track import Track, load_track, track_names, unknown_track
from lmspec.speedrun.workspace import prepare


@dataclass(frozen=True)
class Submission:
    """A submission that keeps its track's rules: its entry, its track, its plan and its training estimate."""

    spec: Path
    entry: SpeedrunEntry
    track: Track
    plan: Plan
    estimate: TrainEstimate

    @property
    def model_output(self) -> str:
        return self.plan.step(self.track.model_step).output_path

    @property
    def eval_output(self) -> str:
        return self.plan.step(self.track.eval_step).output_path


def check_submission(spec: Path, root: str | None = None) -> Submission:
    """The submission in `spec`, compiled under `root`; SpecError listing every rule it breaks."""
    document = load_document(spec)
    entry = read_entry(document)
    track = load_track(entry.track)
    _require_track_steps(document, track)
    prepare(spec.resolve().parent, track)
    plan = compile_spec(spec, root)
    estimate = train_estimates(plan, load_prices(None)).get(track.model_step)
    problems = [
        *training_problems(plan, track),
        *fixed_step_problems(plan, track),
        *data_problems(plan, track),
        *budget_problems(plan, track, estimate),
    ]
    if problems or estimate is None:
        expanded = expand(spec)
        raise SpecError([expanded.diagnostic(path, message) for path, message in problems])
    return Submission(spec, entry, track, plan, estimate)


def _require_track_steps(document: Document, track: Track) -> None:
    """A submission builds on its track's steps (extended, or copied in whole); said before compiling, which
    would only report the first missing reference (`no step named tokens`)."""
    experiment: Any = document.data.get("experiment")
    extends: Any = experiment.get("extends", []) if isinstance(experiment, dict) else []
    steps: Any = document.data.get("steps")
    written = set(steps) if isinstance(steps, dict) else set()
    if TRACK_STEPS in ([extends] if isinstance(extends, str) else extends) or set(track.fixed_steps()) <= written:
        return
    where = document.source_map.value(("experiment",))
    message = f'a submission builds on its track\'s steps: add extends = ["{TRACK_STEPS}"] under [experiment]'
    raise SpecError([Diagnostic(where.file, where.line, where.col, "experiment.extends", message)])


def read_entry(document: Document) -> SpeedrunEntry:
    """The `[speedrun]` table, validated, naming a track lmspec ships."""
    table: Any = document.data.get("speedrun")
    if not isinstance(table, dict):
        where = document.source_map.value(("speedrun",))
        raise SpecError(
            [
                Diagnostic(
                    where.file,
                    where.line,
                    where.col,
                    "speedrun",
                    "a speedrun submission needs a [speedrun] table: track, name, author, description "
                    f"(and optionally url); tracks: {', '.join(track_names())}",
                )
            ]
        )
    try:
        entry = SpeedrunEntry.model_validate(table)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise SpecError(
            diagnostics_from_errors(errors, table, SpeedrunEntry, document.source_map, ("speedrun",))
        ) from None
    if entry.track not in track_names():
        where = document.source_map.value(("speedrun", "track"))
        raise SpecError([Diagnostic(where.file, where.line, where.col, "speedrun.track", unknown_track(entry.track))])
    return entry
