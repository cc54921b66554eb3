"""A spec as it was at a git revision, for `lmspec diff SPEC --against REV`.

The revision's spec files (`.toml`, `.yaml`, `.yml`: a spec may `extends` any of them) are unpacked into a
temporary folder, and the spec is read from there; its raw inputs are still fingerprinted in today's
checkout, so the diff shows what the spec change does, not what uncommitted data would. Only spec files:
unpacking the whole tree of a repository that tracks data costs seconds (200 MB: +2 s) for nothing.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lmspec.compiler.sources import SPEC_SUFFIXES
from lmspec.errors import UsageError


@contextlib.contextmanager
def spec_at_revision(spec: Path, revision: str) -> Iterator[Path]:
    """The path of `spec` inside an unpacked copy of `revision`; removed on exit."""
    folder = spec.resolve().parent
    top = _git(folder, "rev-parse", "--show-toplevel").decode().strip()
    relative = spec.resolve().relative_to(top)
    # From the top: in a subfolder, `git archive` would pack only that subfolder (no `extends = ["../x"]`).
    archive = _git(Path(top), "archive", "--format=tar", revision, "--", *_pathspecs(spec))
    with tempfile.TemporaryDirectory(prefix="lmspec-diff-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        old = Path(tmp) / relative
        if not old.is_file():
            raise UsageError(f"{relative} does not exist at {revision}: nothing to compare with")
        yield old


SPEC_FILES = "*.[ty][oam]*l"
"""One git pathspec (at any depth) that takes every `.toml`, `.yaml` and `.yml` file, and few others (`.tool`).
One, because `git archive` fails on a pathspec that matches nothing (a tree without YAML files)."""


def _pathspecs(spec: Path) -> tuple[str, ...]:
    """What to unpack: the spec files, or the whole tree for a spec whose name is not one of them."""
    return (SPEC_FILES,) if spec.suffix in SPEC_SUFFIXES else ()


def _git(folder: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, check=True)
    except FileNotFoundError:
        raise UsageError("--against needs git on PATH") from None
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"git {args[0]} failed in {folder}: {message[-1] if message else exc}") from None
    return done.stdout
