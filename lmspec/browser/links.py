"""URLs of the browser's pages, for the server (absolute paths, query strings) and for the static site
(relative paths to `index.html` files, so the site works under any prefix, e.g. a GitHub Pages project).

Every page is a folder: `step/<hash>/data/` is served at that path and written as
`step/<hash>/data/index.html`. A static page cannot take a query string, so asking one for a link with a
query is a bug the site writer reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from lmspec.errors import LmspecError

Query = str | int | float | None


@dataclass(frozen=True)
class Links:
    """Links as seen from one page: `depth` folders below the site's root (static) or from the server."""

    static: bool = False
    depth: int = 0

    @property
    def interactive(self) -> bool:
        """Whether pages may link to queries (search, sort, later pages): only on the server."""
        return not self.static

    def to(self, *parts: str, **query: Query) -> str:
        """The page at `parts` (`to("step", digest, "data")`), with a query string on the server."""
        path = "".join(quote(str(part), safe="") + "/" for part in parts)
        given = {key: value for key, value in query.items() if value not in (None, "")}
        if self.static:
            if given:
                raise LmspecError(f"a static page cannot link to a query ({path}?{urlencode(given)})")
            return "../" * self.depth + path + "index.html"
        return "/" + path + ("?" + urlencode(given) if given else "")

    def asset(self, name: str) -> str:
        return ("../" * self.depth if self.static else "/") + "static/" + name

    @classmethod
    def for_page(cls, parts: tuple[str, ...]) -> Links:
        """The links of the static page at `parts`."""
        return cls(static=True, depth=len(parts))


def page_file(site: Path, parts: tuple[str, ...]) -> Path:
    """Where the static site writes the page at `parts`."""
    return site.joinpath(*parts) / "index.html"
