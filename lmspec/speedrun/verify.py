"""Verification of a committed submission: its results file read back, its spec compiled again here.

A submission is accepted when its results file is whole (shape, digest, bits-per-byte following from its
per-document scores), its spec is the one the results were produced from, the spec still keeps the track's
rules (budget, data, evaluation) when compiled by this lmspec, and it compiles to the step hashes and the
FLOPs the results claim. Anything else rejects it, with the first reason found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from lmspec.errors import LmspecError, SpecError
from lmspec.speedrun.check import Submission, check_submission
from lmspec.speedrun.results import TOLERANCE, Results, read_results, spec_sha256

VERIFY_ROOT = "/lmspec-speedrun-verify"
"""The output root specs are compiled under to verify them: nothing is written there, hashes ignore it."""


@dataclass(frozen=True)
class Accepted:
    folder: Path
    results: Results


@dataclass(frozen=True)
class Rejected:
    folder: Path
    reason: str


class Mismatch(LmspecError):
    """The results claim something the spec, compiled here, does not give."""


def verify(folder: Path) -> Accepted | Rejected:
    """Accept or reject the submission in `folder` (see the module docstring)."""
    try:
        results = read_results(folder)
        spec = folder / results.spec_file
        if not spec.is_file() or spec_sha256(spec.read_text(encoding="utf-8")) != results.spec_sha256:
            raise Mismatch(f"{spec}: not the spec the results were produced from (its SHA-256 differs); rerun it")
        check_claims(check_submission(spec, VERIFY_ROOT), results)
    except SpecError as exc:
        return Rejected(folder, "; ".join(d.format() for d in exc.diagnostics))
    except LmspecError as exc:
        return Rejected(folder, str(exc))
    return Accepted(folder, results)


def check_claims(submission: Submission, results: Results) -> None:
    """The results' track, step hashes and compute are what the spec compiles to here."""
    if results.track != submission.track.name:
        raise Mismatch(f"results are for the {results.track} track, the spec names {submission.track.name}")
    compiled = {step.name: step.hash for step in submission.plan.steps}
    changed = [
        f"{name} {results.steps.get(name)} -> {digest}"
        for name, digest in compiled.items()
        if results.steps.get(name) != digest
    ]
    if changed or set(results.steps) != set(compiled):
        raise Mismatch(
            f"the spec compiles to other step hashes than the results record ({', '.join(changed) or 'other steps'}): "
            "the results come from another spec or lmspec version; rerun it"
        )
    estimate = submission.estimate.estimate
    claimed = {"flops": (results.flops, estimate.flops), "tokens": (results.tokens, estimate.tokens)}
    for name, (stored, found) in claimed.items():
        if not math.isclose(stored, found, rel_tol=TOLERANCE):
            raise Mismatch(f"results claim {stored:.4g} {name}, the spec compiles to {found:.4g}")
