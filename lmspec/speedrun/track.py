"""Speedrun tracks: what every submission on a track shares, shipped with lmspec in `speedrun/tracks/`.

A track is two files: `<name>.toml` (this module's `Track`: the FLOPs budget, the hardware class, which
step is trained and which evaluation ranks it, and for a generated corpus its seed and SHA-256) and
`<name>.steps.toml`, the spec fragment holding the track's fixed steps (data, tokenizer, tokenization,
evaluation) that a submission extends.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lmspec.errors import LmspecError, UsageError, did_you_mean

TRACKS_DIR = "tracks"
"""The folder of this package that holds the tracks' files."""
STEPS_SUFFIX = ".steps.toml"


class TrackModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hardware(TrackModel):
    """The hardware class submissions train on, so wall times compare: the step's `resources` must match."""

    accelerator: Literal["cpu", "gpu", "tpu"]
    type: str | None = None
    """An accelerator type (`h100`); None: any of the family."""

    def describe(self) -> str:
        return self.type or self.accelerator


class Corpus(TrackModel):
    """A corpus lmspec generates itself (`lmspec.speedrun.corpus`), pinned by its digest."""

    seed: int = Field(ge=0)
    documents: int = Field(ge=10)
    file: str = Field(pattern=r"^[a-z0-9_.-]+$")
    """Its name in `track/data/`."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Track(TrackModel):
    """One track: the fixed steps (in `steps_file`), the budget and the rules a submission is checked by."""

    name: str
    description: str
    steps_file: str
    flops_budget: float = Field(gt=0)
    """Training FLOPs a submission may spend: 6·N·D, N the parameters a token passes through (lmspec's count)."""
    model_step: str
    """The one training step a submission supplies; the track's evaluation reads it."""
    data: str
    """What the training step must train on: the track's tokenize step, `"@tokens"`."""
    eval_step: str
    metric: str
    """The perplexity set of `eval_step` whose held-out bits-per-byte ranks submissions."""
    hardware: Hardware
    corpus: Corpus | None = None
    """None: the fixed steps read their data elsewhere (the Hub), pinned by the revision in the step hash."""

    def steps_text(self) -> str:
        """The fragment of fixed steps, as shipped."""
        return _tracks_dir().joinpath(self.steps_file).read_text(encoding="utf-8")

    def fixed_steps(self) -> dict[str, dict[str, Any]]:
        """The fixed steps' tables, by name."""
        return dict(tomllib.loads(self.steps_text())["steps"])


def _tracks_dir() -> Traversable:
    return resources.files("lmspec.speedrun").joinpath(TRACKS_DIR)


class TrackError(LmspecError):
    """A track file that lmspec ships is broken: a bug in lmspec, reported with the file."""


def track_names() -> list[str]:
    """Every track lmspec ships, sorted."""
    files = _tracks_dir().iterdir()
    return sorted(
        f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml") and STEPS_SUFFIX not in f.name
    )


def unknown_track(name: str) -> str:
    """The message for a track lmspec does not ship, with the closest name and the list."""
    names = track_names()
    return f"unknown track `{name}`{did_you_mean(name, names)} (tracks: {', '.join(names)})"


def load_track(name: str) -> Track:
    """The track called `name`; UsageError naming the tracks there are when there is none."""
    if name not in track_names():
        raise UsageError(unknown_track(name))
    text = _tracks_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    try:
        return Track.model_validate(tomllib.loads(text))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise TrackError(f"lmspec/speedrun/{TRACKS_DIR}/{name}.toml is not a valid track: {exc}") from None
