"""`lmspec site OUT`: the browser's pages written as static files, for publishing (GitHub Pages, any server).

The same page functions and templates as the server, rendered once each with relative links. What needs
a query (search, sorting, later pages, comparisons) is left out, so data samples are bounded: each
documents output shows its first page, a filter its first kept and dropped documents, a dedup its first
clusters, a tokenize step its first document.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from lmspec.browser import datapages, pages, queries
from lmspec.browser.context import BrowseError, Browser
from lmspec.browser.links import Links, page_file
from lmspec.browser.render import STATIC, render

NO_QUERY: dict[str, str] = {}
DATA_VIEWS: dict[str, Callable[[Browser, str, pages.Params], pages.Page]] = {
    "data": datapages.data_page,
    "kept": datapages.filter_page,
    "clusters": datapages.dedup_page,
    "tokens": datapages.tokens_page,
}
"""The step views that take a query (their first page is written); `training` takes none."""


def write_site(browser: Browser, out: Path) -> int:
    """Write every page under `out` (created; an existing site there is replaced); returns the page count."""
    if out.resolve().is_relative_to(browser.root):
        raise BrowseError(f"write the site outside the browsed root {browser.root}, not into {out}")
    try:
        shutil.rmtree(out / "static", ignore_errors=True)
        shutil.copytree(STATIC, out / "static")
    except OSError as exc:
        raise BrowseError(f"cannot write the site into {out}: {exc.strerror}") from None
    written = 0
    for parts, make in _pages(browser):
        target = page_file(out, parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(make(), Links.for_page(parts)), encoding="utf-8")
        written += 1
    return written


def _pages(browser: Browser) -> Iterator[tuple[tuple[str, ...], Callable[[], pages.Page]]]:
    """(path parts, page maker) of every page of the site."""
    yield (), partial(pages.experiments_page, browser, NO_QUERY)
    yield ("artifacts",), partial(pages.artifacts_page, browser, NO_QUERY)
    for row in _all(lambda page: queries.experiments(browser.catalog, "", "name", False, page)):
        name = str(row["experiment"])
        yield ("experiment", name), partial(pages.experiment_page, browser, name, NO_QUERY)
    for row in _all(lambda page: queries.artifacts(browser.catalog, "", "finished", True, page)):
        digest = str(row["hash"])
        yield ("step", digest), partial(pages.step_page, browser, digest)
        has_series = bool(browser.catalog.series(str(row["output_path"])))
        for view, _ in pages.views(str(row["kind"]), str(row["status"]), has_series):
            yield ("step", digest, view), _step_view(browser, view, digest)


def _step_view(browser: Browser, view: str, digest: str) -> Callable[[], pages.Page]:
    if view in DATA_VIEWS:
        return partial(DATA_VIEWS[view], browser, digest, NO_QUERY)
    return partial(pages.training_page, browser, digest)


def _all(listing: Callable[[int], queries.Listing]) -> Iterator[dict[str, object]]:
    """Every row of a paginated listing."""
    page = 1
    while True:
        found = listing(page)
        yield from found.rows
        if page >= found.pages:
            return
        page += 1
