"""A submission's `results.json`: what `lmspec speedrun run` measured, in a file meant to be committed.

The file holds everything a reviewer needs to check the claim without rerunning it: the spec text and the
hash of every step it compiles to, the versions and hardware it ran on, the FLOPs and tokens, the wall
time, held-out bits-per-byte with its bootstrap stderr, the score of every held-out document those come
from, and the training curve. `digest` is a SHA-256 over the rest of the body: it catches a hand edit
(a bits-per-byte typed over), not a forger, who can recompute it; the per-document scores make a changed
bits-per-byte inconsistent on their own, and rerunning the spec (same hashes, same bits-per-byte to 1e-4
on CPU) is the full check.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lmspec.catalog.stats import DOCUMENT_SCORES, bits_per_byte, bootstrap_stderr, document_columns
from lmspec.errors import LmspecError
from lmspec.schemas.experiment import SpeedrunEntry

RESULTS_FILE = "results.json"
SPEC_NAMES = ("spec.toml", "spec.yaml", "spec.yml")
"""A submission's folder holds its spec under one of these names, beside its results.json."""
RESULTS_SCHEMA_VERSION = 1
TOLERANCE = 1e-9
"""Relative difference allowed between a stored number and the same number recomputed from the file."""

Curve = list[tuple[int, float]]


class ResultsError(LmspecError):
    """A results file that cannot be read, or whose numbers do not hold together."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunHardware(_Frozen):
    """What the run trained on."""

    accelerator: str
    """The step's resources: `cpu`, or an accelerator type such as `h100`."""
    devices: int
    cpu: str
    cores: int


class Results(_Frozen):
    """The body of results.json (see the module docstring), then its digest."""

    schema_version: int = Field(ge=1, le=RESULTS_SCHEMA_VERSION)
    track: str
    submission: SpeedrunEntry
    spec_file: str = Field(pattern="^(" + "|".join(re.escape(name) for name in SPEC_NAMES) + ")$")
    """The spec's file name in the submission's folder (one of SPEC_NAMES: never a path out of it)."""
    spec_text: str
    spec_sha256: str
    plan_hash: str
    steps: dict[str, str]
    """Every step of the compiled spec -> its hash."""
    model_step: str
    lmspec_version: str | None
    git_commit: str | None
    hardware: RunHardware
    parameters: int = Field(ge=1)
    tokens: int = Field(ge=1)
    flops: float = Field(gt=0)
    wall_seconds: float = Field(ge=0)
    """From the start of training to the end of evaluation (steps served from cache count what they took then)."""
    bits_per_byte: float = Field(gt=0)
    bits_per_byte_stderr: float = Field(ge=0)
    documents: list[tuple[str, float, float, float]]
    """Each held-out document, in the evaluation's order (the bootstrap's resamples depend on it): its id,
    log-probability (nats), UTF-8 bytes and tokens."""
    curve: dict[str, Curve]
    """`loss`, `eval_loss`, `lr`: [(step, value)] from the training step's curves."""
    digest: str = ""

    def body_digest(self) -> str:
        """SHA-256 of the canonical JSON of every field but `digest`."""
        body = self.model_dump(mode="json", exclude={"digest"})
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def sealed(self) -> Results:
        return self.model_copy(update={"digest": self.body_digest()})


def document_scores(items: dict[str, dict[str, float]]) -> list[tuple[str, float, float, float]]:
    """An evaluation's per-document scores (`Metrics.items`, in its order) in the results file's shape."""
    return [(doc, *_scores(row)) for doc, row in items.items()]


def _scores(row: dict[str, float]) -> tuple[float, float, float]:
    logprob, size, tokens = (float(row[name]) for name in DOCUMENT_SCORES)
    return logprob, size, tokens


def recomputed(documents: list[tuple[str, float, float, float]]) -> tuple[float, float]:
    """(bits-per-byte, its bootstrap stderr) from per-document scores, as the evaluate step computes them."""
    items = {doc: dict(zip(DOCUMENT_SCORES, values, strict=True)) for doc, *values in documents}
    columns = document_columns(items)
    totals = np.asarray([[sum(column) for column in columns]])
    return float(bits_per_byte(totals)[0]), bootstrap_stderr(columns, bits_per_byte)


def write_results(folder: Path, results: Results) -> Path:
    path = folder / RESULTS_FILE
    body = results.sealed().model_dump(mode="json")
    lines = (f"  {json.dumps(key)}: {json.dumps(body[key], separators=(',', ':'))}" for key in sorted(body))
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path


def read_results(folder: Path) -> Results:
    """The results file in `folder`, checked for shape, digest and internal consistency."""
    path = folder / RESULTS_FILE
    try:
        results = Results.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ResultsError(f"{path}: no results file; `lmspec speedrun run` writes it") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ResultsError(f"{path}: not a results file: {field}: {first['msg']}") from None
    check_consistency(path, results)
    return results


def check_consistency(path: Path, results: Results) -> None:
    """Raise when the file was edited after it was written or its numbers do not follow from each other."""
    if results.digest != results.body_digest():
        raise ResultsError(f"{path}: edited after `lmspec speedrun run` wrote it (its digest does not match its body)")
    if not results.documents:
        raise ResultsError(f"{path}: no per-document scores, so its bits-per-byte cannot be checked")
    bpb, stderr = recomputed(results.documents)
    if spec_sha256(results.spec_text) != results.spec_sha256:
        raise ResultsError(f"{path}: spec_sha256 is not the SHA-256 of its spec_text")
    for name, stored, found in (
        ("bits_per_byte", results.bits_per_byte, bpb),
        ("bits_per_byte_stderr", results.bits_per_byte_stderr, stderr),
    ):
        if not math.isclose(stored, found, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            raise ResultsError(
                f"{path}: {name} is {stored:.6f}, but its {len(results.documents)} per-document scores give {found:.6f}"
            )


def spec_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def curve_of(series: dict[str, Any]) -> dict[str, Curve]:
    """The curves a results file keeps, from the training step's recorded series."""
    return {
        name: [(int(s), float(v)) for s, v in series[name]] for name in ("loss", "eval_loss", "lr") if name in series
    }
