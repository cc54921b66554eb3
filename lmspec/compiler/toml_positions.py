"""Positions of every key and value in a TOML document that tomllib has already accepted.

tomllib gives values but no positions, and no TOML parser on PyPI exposes
them, so this scanner walks the text once more. It assumes valid TOML (tomllib
parsed it first) and only tracks structure: table headers, arrays of tables,
dotted keys, inline tables and arrays. Strings and scalars are skipped over.
"""

from __future__ import annotations

import bisect
import re

from lmspec.compiler.source_map import DataPath, Location, SourceMap

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = frozenset(",]}#\n\r \t")
_DATE_THEN_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d")


class _Scanner:
    def __init__(self, text: str, file: str) -> None:
        self.s = text
        self.i = 0
        self.file = file
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.map = SourceMap()
        self.aot_counts: dict[DataPath, int] = {}
        self.aot_current: dict[tuple[str, ...], int] = {}

    # -- positions -------------------------------------------------------------------------
    def loc(self, index: int) -> Location:
        line = bisect.bisect_right(self.line_starts, index) - 1
        return Location(self.file, line + 1, index - self.line_starts[line] + 1)

    def peek(self, n: int = 1) -> str:
        return self.s[self.i : self.i + n]

    # -- whitespace ------------------------------------------------------------------------
    def skip_blank(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def skip_blank_lines(self) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            else:
                return

    # -- keys ------------------------------------------------------------------------------
    def key(self) -> list[tuple[str, int]]:
        """A dotted key as (segment, start index) pairs."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_blank()
            start = self.i
            c = self.peek()
            if c == '"':
                parts.append((self.basic_string(), start))
            elif c == "'":
                end = self.s.index("'", self.i + 1)
                parts.append((self.s[self.i + 1 : end], start))
                self.i = end + 1
            else:
                m = _BARE_KEY.match(self.s, self.i)
                if not m:
                    raise ValueError(f"expected a key at {self.loc(self.i)}")
                parts.append((m.group(), start))
                self.i = m.end()
            self.skip_blank()
            if self.peek() != ".":
                return parts
            self.i += 1

    def basic_string(self) -> str:
        """Skip a one-line basic string and return its (unescaped) content."""
        j = self.i + 1
        out = []
        while self.s[j] != '"':
            if self.s[j] == "\\":
                out.append(self.s[j : j + 2])
                j += 2
            else:
                out.append(self.s[j])
                j += 1
        self.i = j + 1
        raw = "".join(out)
        return raw.encode().decode("unicode_escape") if "\\" in raw else raw

    def record_keys(self, base: DataPath, parts: list[tuple[str, int]]) -> DataPath:
        path = base
        for name, start in parts:
            path = (*path, name)
            self.map.keys.setdefault(path, self.loc(start))
        return path

    # -- values ----------------------------------------------------------------------------
    def value(self, path: DataPath) -> None:
        self.skip_blank()
        self.map.values[path] = self.loc(self.i)
        c = self.peek()
        if self.peek(3) in ('"""', "'''"):
            quote = self.peek(3)
            j = self.i + 3
            while self.s[j : j + 3] != quote:
                j += 2 if quote == '"""' and self.s[j] == "\\" else 1
            j += 3
            while self.s[j : j + 1] == quote[0]:  # up to two quotes may end the content
                j += 1
            self.i = j
        elif c == '"':
            self.basic_string()
        elif c == "'":
            self.i = self.s.index("'", self.i + 1) + 1
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            if _DATE_THEN_TIME.match(self.s, self.i):
                self.i += 11
            while self.i < len(self.s) and self.s[self.i] not in _SCALAR_END:
                self.i += 1

    def array(self, path: DataPath) -> None:
        self.i += 1
        index = 0
        while True:
            self.skip_blank_lines()
            if self.peek() == "]":
                self.i += 1
                return
            item = (*path, index)
            self.map.keys[item] = self.loc(self.i)
            self.value(item)
            index += 1
            self.skip_blank_lines()
            if self.peek() == ",":
                self.i += 1

    def inline_table(self, path: DataPath) -> None:
        self.i += 1
        while True:
            self.skip_blank_lines()
            if self.peek() == "}":
                self.i += 1
                return
            target = self.record_keys(path, self.key())
            self.i += 1  # '='
            self.value(target)
            self.skip_blank_lines()
            if self.peek() == ",":
                self.i += 1

    # -- document --------------------------------------------------------------------------
    def header_path(self, parts: list[tuple[str, int]], new_array_item: bool) -> DataPath:
        """Resolve a table header, stepping into the current element of each array of tables."""
        path: DataPath = ()
        names: tuple[str, ...] = ()
        for n, (name, start) in enumerate(parts):
            path = (*path, name)
            names = (*names, name)
            self.map.keys.setdefault(path, self.loc(start))
            last = n == len(parts) - 1
            if last and new_array_item:
                index = self.aot_counts.get(path, 0)
                self.aot_counts[path] = index + 1
                self.aot_current[names] = index
                path = (*path, index)
                self.map.keys[path] = self.loc(start)
            elif names in self.aot_current:
                path = (*path, self.aot_current[names])
        return path

    def document(self) -> SourceMap:
        table: DataPath = ()
        while True:
            self.skip_blank_lines()
            if self.i >= len(self.s):
                return self.map
            if self.peek(2) == "[[":
                self.i += 2
                table = self.header_path(self.key(), new_array_item=True)
                self.i += 2
            elif self.peek() == "[":
                self.i += 1
                table = self.header_path(self.key(), new_array_item=False)
                self.i += 1
            else:
                target = self.record_keys(table, self.key())
                self.i += 1  # '='
                self.value(target)


def toml_source_map(text: str, file: str) -> SourceMap:
    """Locations of every key and value in `text` (valid TOML); an unexpected shape yields a partial map."""
    scanner = _Scanner(text, file)
    try:
        return scanner.document()
    except (ValueError, IndexError):
        # Positions are a courtesy on top of tomllib's verdict: a construct this scanner
        # does not follow costs precise columns after it, never a wrong verdict.
        return scanner.map
