"""Where each key and value of a loaded spec was written, so errors point at the user's text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DataPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in one file."""

    file: str
    line: int
    col: int


class SourceMap:
    """Data path -> location of its key and of its value, across every file merged into a spec.

    Paths follow the loaded data: table and key names as strings, array indices as ints.
    `source` keeps the dotted path as the user wrote it when expansion renamed
    things (sweep copies of a step), so errors name what is in the file.

    A map can be `deferred`: built on first use. Positions are only read to point at a problem, and
    finding them costs a second pass over the text (a 1,000-step TOML spec: as long as parsing it), so a
    valid spec never pays for them.
    """

    def __init__(self) -> None:
        self._keys: dict[DataPath, Location] = {}
        self._values: dict[DataPath, Location] = {}
        self._build: Callable[[], SourceMap] | None = None
        self.renamed: dict[DataPath, DataPath] = {}

    @classmethod
    def deferred(cls, build: Callable[[], SourceMap]) -> SourceMap:
        """A map whose locations `build` finds when they are first read or changed."""
        lazy = cls()
        lazy._build = build
        return lazy

    @property
    def keys(self) -> dict[DataPath, Location]:
        self._materialize()
        return self._keys

    @property
    def values(self) -> dict[DataPath, Location]:
        self._materialize()
        return self._values

    def _materialize(self) -> None:
        if self._build is not None:
            built, self._build = self._build(), None
            self._keys, self._values = built.keys, built.values

    def key(self, path: DataPath) -> Location:
        """Where the key of `path` (or of its nearest recorded parent) is written."""
        return _nearest(self.keys, path) or _nearest(self.values, path) or self.file_start

    def value(self, path: DataPath) -> Location:
        """Where the value of `path` (or of its nearest recorded parent) starts."""
        return _nearest(self.values, path) or _nearest(self.keys, path) or self.file_start

    @property
    def file_start(self) -> Location:
        first = next(iter(self.keys.values()), None) or next(iter(self.values.values()), None)
        return Location(first.file if first else "<spec>", 1, 1)

    def source_path(self, path: DataPath) -> DataPath:
        """The path as written in the file, undoing sweep renames of step names."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.renamed:
                return self.renamed[path[:n]] + path[n:]
        return path

    def overlay(self, other: SourceMap, replaced: list[DataPath]) -> None:
        """Merge `other` (the including file) over self; drop entries under subtrees it replaced."""
        for prefix in replaced:
            for table in (self.keys, self.values):
                for path in [p for p in table if p[: len(prefix)] == prefix and len(p) > len(prefix)]:
                    del table[path]
        self.keys.update(other.keys)
        self.values.update(other.values)

    def copy_subtree(self, src: DataPath, dst: DataPath) -> None:
        """Give `dst` and everything under it the locations of `src` (a sweep copy of a step)."""
        for table in (self.keys, self.values):
            for path in [p for p in table if p[: len(src)] == src]:
                table[dst + path[len(src) :]] = table[path]
        self.renamed[dst] = src


def _nearest(table: dict[DataPath, Location], path: DataPath) -> Location | None:
    for n in range(len(path), -1, -1):
        if path[:n] in table:
            return table[path[:n]]
    return None


def dotted(path: DataPath) -> str:
    """`("steps", "model", "rules", 0, "min")` -> `steps.model.rules[0].min`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _is_bare(part) else f'"{part}"'
            out += f".{name}" if out else name
    return out


def _is_bare(key: str) -> bool:
    return bool(key) and all(c.isalnum() or c in "_-" for c in key) and key.isascii()
