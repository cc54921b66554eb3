"""Raw inputs identified by content: what a step reads from outside the plan enters its identity.

Two spec folders that both name `data/x.jsonl`, or one file edited in place, must not share a cached
output. Every raw input a step names (fields marked `RawInput`, and `Ref(paths=True)` fields holding a
path) is fingerprinted the way DVC checks dependencies:

- local files: a SHA-256 of the content, kept in a cache keyed by (path, size, mtime, inode), so an
  unchanged input costs one `stat` and a lookup; a changed or new one is streamed once;
- fsspec URLs: the store's own checksum or version (ETag, md5, crc32c, generation), else size + mtime;
- Hugging Face Hub datasets: the revision (commit sha) the Hub resolves the name to.

`$LMSPEC_OFFLINE=1` skips the network probes (every remote input is `unreachable`), for machines known to be
offline; otherwise a store that does not answer in REMOTE_TIMEOUT_S is not asked again by the same process.

An input that cannot be reached (offline, no credentials) or does not exist yet gets a stated
placeholder, so compile still works; the step's hash then changes once the input can be read, which
re-runs it rather than serving a guess.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lmspec.compiler.plan import is_url
from lmspec.compiler.remote import Unanswered, probe

HASH_CHUNK = 1 << 20
GLOB_CHARACTERS = frozenset("*?[")

Fingerprints = dict[str, str]
"""Input path as the spec names it (a matched file relative to the spec folder, or a URL) -> its version."""


def cache_path() -> Path:
    """`$LMSPEC_CACHE_DIR/fingerprints.sqlite` (default under `$XDG_CACHE_HOME/lmspec`)."""
    base = os.environ.get("LMSPEC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lmspec"
    )
    return Path(base) / "fingerprints.sqlite"


class DigestCache:
    """File digests by (absolute path, size, mtime_ns, inode); any stat change means the file is read again.

    A cache that cannot be opened or written (read-only home, a locked file) is skipped, never fatal:
    fingerprints are then computed from the content each time, which is slower but still right.
    """

    def __init__(self, path: Path) -> None:
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
                " inode INTEGER, digest TEXT)"
            )
        except (OSError, sqlite3.Error):
            self._db = None

    def digest(self, path: str) -> str:
        """The content digest of a local file, from the cache when its stat is unchanged."""
        st = os.stat(path)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if self._db is not None:
            try:
                row = self._db.execute("SELECT size, mtime_ns, inode, digest FROM files WHERE path = ?", (path,))
                found = row.fetchone()
            except sqlite3.Error:
                found = None
            if found is not None and tuple(found[:3]) == key:
                return str(found[3])
        digest = _file_sha256(path)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", (path, *key, digest))
        return digest

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def _file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def local_files(pattern: str, spec_dir: Path) -> list[str]:
    """The files a local path, directory or glob names (relative to the spec folder), sorted; [] for none."""
    full = pattern if os.path.isabs(pattern) else str(spec_dir / pattern)
    if os.path.isdir(full):
        full = os.path.join(full, "**", "*")
    return sorted(p for p in glob.glob(full, recursive=True) if os.path.isfile(p))


def fingerprint_inputs(values: Iterable[tuple[str, bool]], spec_dir: Path, cache: DigestCache) -> Fingerprints:
    """Fingerprint each (path, may name a Hub dataset) a step reads; deterministic, keyed as written."""
    found: Fingerprints = {}
    for value, hub in values:
        if is_url(value):
            found.update(_remote(value))
            continue
        files = local_files(value, spec_dir)
        if files:
            for file in files:
                key = os.path.relpath(file, spec_dir) if not os.path.isabs(value) else file
                found[key] = cache.digest(file)
        elif hub and not GLOB_CHARACTERS & set(value) and not value.startswith((".", "/")):
            found[f"hf://datasets/{value}"] = _hub_revision(value)
        else:
            found[value] = "missing"
    return found


def _remote(url: str) -> Fingerprints:
    """The store's version of every object a URL or URL glob names."""
    store = "/".join(url.split("/", 3)[:3])  # gs://bucket: a store that did not answer once is not asked again
    if store in _unreachable_stores or os.environ.get("LMSPEC_OFFLINE"):
        return {url: "unreachable"}

    def ask() -> Fingerprints:
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(url)
        return {fs.unstrip_protocol(p): _object_version(fs.info(p)) for p in sorted(paths)} or {url: "missing"}

    found = _with_timeout(ask, url, {url: "unreachable"})
    if found == {url: "unreachable"}:
        _unreachable_stores.add(store)
    return found


VERSION_KEYS = ("ETag", "etag", "md5Hash", "md5", "crc32c", "checksum", "generation", "version_id", "VersionId")
"""What object stores call a content checksum or a version, in the order lmspec prefers them."""


def _object_version(info: dict[str, Any]) -> str:
    for key in VERSION_KEYS:
        if info.get(key):
            return f"{key}:{str(info[key]).strip(chr(34))}"
    modified = info.get("mtime") or info.get("LastModified") or info.get("updated") or info.get("last_modified")
    return f"size:{info.get('size')}:modified:{modified}"


def _hub_revision(name: str) -> str:
    """The commit sha the Hugging Face Hub resolves a dataset name to."""

    def ask() -> str:
        from huggingface_hub import HfApi

        return f"revision:{HfApi().dataset_info(name).sha}"

    if os.environ.get("LMSPEC_OFFLINE"):
        return "unreachable"
    return _with_timeout(ask, f"hf://datasets/{name}", "unreachable")


_warned: set[str] = set()
_unreachable_stores: set[str] = set()
"""Stores (scheme://host) that did not answer: the other objects there are not probed again by this process."""


def _with_timeout[T](ask: Callable[[], T], what: str, fallback: T) -> T:
    """A network question answered within REMOTE_TIMEOUT_S, else `fallback`, said once per input.

    A plan neither waits for an offline store nor fails: the step's hash then carries the fallback, so it
    re-runs once the input can be read.
    """
    found = probe(ask)
    if not isinstance(found, Unanswered):
        return found
    if what not in _warned:
        _warned.add(what)
        print(
            f"lmspec: cannot fingerprint {what} ({found.reason}); its step is planned as if it changed", file=sys.stderr
        )
    return fallback
