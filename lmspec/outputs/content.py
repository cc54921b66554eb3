"""An output's content: the fingerprint of its bytes (for early cutoff) and placing one output's files in
another's attempt (early cutoff and the shared cache reuse finished outputs this way).

The content fingerprint covers every file an executor wrote, by relative path and SHA-256, and leaves out
what the lifecycle adds around them (the step's log, its record, the success marker): those differ between
two executions that produced the same data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Literal

from lmspec.outputs.lifecycle import LOG_NAME, RESULT_NAME, SUCCESS_MARKER, read_record

CONTENT_FIELD = "content"
"""The key of an output's content fingerprint in its record (`lmspec-step.json`)."""
_LIFECYCLE_FILES = frozenset({LOG_NAME, RESULT_NAME, SUCCESS_MARKER, f".{SUCCESS_MARKER}.tmp"})

type Placement = Literal["linked", "copied"]
"""How a reused output's files reached their new place: hard links to the same bytes (same file system,
no space used; outputs are never modified in place, so sharing is safe), or copies."""


def content_fingerprint(directory: Path) -> str:
    """SHA-256 over the sorted (relative path, file SHA-256) of every data file under `directory`."""
    total = hashlib.sha256()
    for path in _data_files(directory):
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        total.update(f"{path.relative_to(directory).as_posix()}\0{digest}\n".encode())
    return total.hexdigest()


def output_content(output: Path) -> str:
    """The content fingerprint of a complete output: from its record, or computed (outputs published before
    records carried it)."""
    record = read_record(output) or {}
    found = record.get(CONTENT_FIELD)
    return found if isinstance(found, str) else content_fingerprint(output)


def place(source: str, target: Path) -> Placement:
    """Put the data files of the complete output `source` (a local path or an fsspec URL) into the attempt
    directory `target`: hard links where the file system allows, copies otherwise."""
    if "://" in source:
        _download(source, target)
        return "copied"
    how: Placement = "linked"
    for path in _data_files(Path(source)):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:  # another device, or a file system without hard links
            shutil.copy2(path, destination)
            how = "copied"
    return how


def _data_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and not (p.parent == directory and p.name in _LIFECYCLE_FILES)
    )


def _download(url: str, target: Path) -> None:
    import fsspec  # only a remote cache pays for it

    fs, inner = fsspec.core.url_to_fs(url)
    for remote in sorted(fs.find(inner)):
        relative = remote[len(inner.rstrip("/")) + 1 :]
        if relative in _LIFECYCLE_FILES:
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(remote, str(destination))
