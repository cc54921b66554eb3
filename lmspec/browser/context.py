"""What every page reads from: the output root, the catalog, and where the browser keeps its indexes.

The browser is read-only over outputs and the catalog. The only files it writes are its own indexes
(`index_dir`), under `<root>/.browse-index/` when the root is writable, else under the user's cache, so a
colleague's read-only root can still be browsed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from lmspec.catalog import Catalog
from lmspec.errors import LmspecError

INDEX_FOLDER = ".browse-index"


class NotFound(LmspecError):
    """A page or file that does not exist, or that lies outside the browsed root (the app answers 404)."""


@dataclass(frozen=True)
class Browser:
    """The browsed root (resolved, symlinks followed), its catalog, and the folder for the browser's indexes."""

    root: Path
    catalog: Catalog
    index_dir: Path

    @classmethod
    def open(cls, root: str | Path, catalog_url: str | None = None) -> Browser:
        """A browser over `root`, reading `catalog_url` (default `<root>/catalog.sqlite`, which must exist)."""
        from lmspec.catalog import default_catalog_url

        resolved = Path(root).expanduser().resolve()
        url = catalog_url or default_catalog_url(str(resolved))
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            raise BrowseError(
                f"no catalog at {url.removeprefix('sqlite:///')}: run `lmspec run SPEC --root {root}` first, "
                "or point --root / --catalog at an existing one"
            )
        return cls(resolved, Catalog(url).open(create=False), _index_dir(resolved))

    def local(self, path: str | Path) -> Path:
        """`path` resolved, when it lies inside the root; `NotFound` otherwise (`..`, absolute paths elsewhere,
        symlinks out of the root): no URL reaches a file outside the root."""
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.root):
            raise NotFound(f"{path} is outside the browsed root {self.root}")
        return resolved

    def inside(self, folder: str | Path, relative: str) -> Path:
        """`folder/relative` when it stays inside `folder` and the root; `NotFound` otherwise."""
        base = self.local(folder)
        target = (base / relative).resolve()
        if not target.is_relative_to(base):
            raise NotFound(f"{relative} is outside {folder}")
        return self.local(target)


class BrowseError(LmspecError):
    """The browser cannot start: no catalog, a port in use, an output folder that cannot be written."""

    exit_code = 2


def _index_dir(root: Path) -> Path:
    """`<root>/.browse-index` if it can be written, else a folder per root under `$LMSPEC_CACHE_DIR` (or
    `~/.cache/lmspec`)."""
    preferred = root / INDEX_FOLDER
    if os.access(preferred if preferred.exists() else root, os.W_OK):
        return preferred
    cache = os.environ.get("LMSPEC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lmspec"
    )
    return Path(cache) / "browse-index" / hashlib.sha256(str(root).encode()).hexdigest()[:16]
