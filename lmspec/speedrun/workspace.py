"""The track's files beside a submission: `track/steps.toml` (the fixed steps) and `track/data/` (its corpus).

A submission extends `track/steps.toml`, and the fixed steps read `track/data/...` relative to the
submission's spec, so every submission on a track, wherever its folder is, names the same files by the
same relative path: its fixed steps hash the same, and its training step's hash can be recomputed on any
machine. These files are made, never edited: each command writes them afresh when they differ from what the
track ships (a generated corpus is checked against the track's SHA-256 first).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lmspec.errors import UsageError
from lmspec.speedrun.corpus import write_corpus
from lmspec.speedrun.track import Corpus, Track, TrackError

WORKSPACE = "track"
"""The folder beside a submission's spec that holds the track's files (ignored by git in `speedrun/`)."""
STEPS_NAME = "steps.toml"
DATA_DIR = "data"


def steps_path(spec_dir: Path) -> Path:
    return spec_dir / WORKSPACE / STEPS_NAME


def corpus_key(corpus: Corpus) -> str:
    """How the fixed steps name the corpus file, relative to the submission's spec (its fingerprint key)."""
    return f"{WORKSPACE}/{DATA_DIR}/{corpus.file}"


def prepare(spec_dir: Path, track: Track) -> Path:
    """Write the track's fixed steps and data beside the spec in `spec_dir`; returns the steps file.

    A link anywhere on the way is refused: a submission's folder comes from a pull request, and writing
    through a link it holds would overwrite whatever file the link points at."""
    steps = steps_path(spec_dir)
    for path in (spec_dir / WORKSPACE, steps, spec_dir / WORKSPACE / DATA_DIR):
        if path.is_symlink():
            raise UsageError(
                f"{path} is a symbolic link; lmspec writes the track's files there itself: remove the link"
            )
    steps.parent.mkdir(parents=True, exist_ok=True)
    if not steps.is_file() or steps.read_text(encoding="utf-8") != track.steps_text():
        steps.write_text(track.steps_text(), encoding="utf-8")
    if track.corpus is not None:
        _ensure_corpus(spec_dir / corpus_key(track.corpus), track)
    return steps


def _ensure_corpus(path: Path, track: Track) -> None:
    """Generate the corpus unless the file there already has the pinned digest; then check the digest."""
    corpus = track.corpus
    assert corpus is not None
    if path.is_file() and file_sha256(path) == corpus.sha256:
        return
    write_corpus(path, corpus.seed, corpus.documents)
    made = file_sha256(path)
    if made != corpus.sha256:
        raise TrackError(
            f"the {track.name} track's corpus generated here has SHA-256 {made}, but the track pins {corpus.sha256}: "
            "lmspec's generator changed; a new corpus is a new track version (update the pin on purpose)"
        )


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
