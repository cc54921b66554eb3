"""`lmspec site OUT`: the quickstart's pages as static files, served by a plain HTTP server under a prefix
(as a GitHub Pages project site is) and followed link by link in headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lmspec.catalog import Catalog
from tests.browser.conftest import lmspec, visit

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(quickstart_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The site written under `<served>/project/`, and the address of `project/` on a static file server."""
    served = tmp_path_factory.mktemp("served")
    done = lmspec("site", str(served / "project"), "--root", str(quickstart_root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("wrote ")
    command = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(served)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (http://127.0.0.1:N/) ..."
    port = line.split(" port ")[1].split()[0]
    yield f"http://127.0.0.1:{port}/project/", served / "project"
    server.terminate()
    server.communicate(timeout=30)


def test_the_site_is_browsed_by_its_links(site: tuple[str, Path], driver: Any, tmp_path: Path) -> None:
    base, _ = site
    visit(driver, base, tmp_path, "site-index")
    _follow(driver, "#experiments a[href*='experiment/quickstart']", tmp_path, "site-experiment")
    assert len(driver.find_elements("css selector", "svg.dag g.node")) == 12
    assert len(driver.find_elements("css selector", "#loss-chart .uplot")) == 1  # vendored uPlot, relative path
    _follow(driver, "#steps a[href*='/data/']", tmp_path, "site-data")
    assert 0 < len(driver.find_elements("css selector", "#documents article.doc")) <= 50
    assert not driver.find_elements("css selector", "form.search, nav.pager a")  # no queries in a static page
    _follow(driver, "h1 a", tmp_path, "site-step")
    assert driver.find_elements("css selector", "#config")


def test_every_step_view_is_written(site: tuple[str, Path], quickstart_root: Path) -> None:
    _, folder = site
    catalog = Catalog(f"sqlite:///{quickstart_root / 'catalog.sqlite'}").open(create=False)
    records = {r.step_name: r for r in catalog.artifacts()}
    expected = {
        "clean": ("data", "kept"),
        "deduped": ("data", "clusters"),
        "clean_tokens": ("tokens",),
        "model_clean": ("training",),
        "eval_clean": (),
    }
    for step, views in expected.items():
        page = folder / "step" / records[step].hash / "index.html"
        assert page.is_file()
        for view in views:
            assert (page.parent / view / "index.html").is_file(), f"{step}: no {view} page"
    assert (folder / "static" / "uPlot.iife.min.js").is_file()


def test_every_link_is_relative(site: tuple[str, Path]) -> None:
    """A site published under a prefix (`https://org.github.io/project/`) works only with relative links."""
    _, folder = site
    pages = list(folder.rglob("index.html"))
    assert len(pages) > 20
    for page in pages:
        for target in re.findall(r'(?:href|src)="([^"]*)"', page.read_text(encoding="utf-8")):
            assert not target.startswith(("/", "http:", "https:")), f"{page}: {target}"
            if not target.startswith(("data:", "#")):
                assert (page.parent / target).resolve().is_file(), f"{page}: broken link {target}"


def test_the_site_is_not_written_into_the_root(quickstart_root: Path) -> None:
    done = lmspec("site", str(quickstart_root / "site"), "--root", str(quickstart_root))
    assert done.returncode == 2
    assert "write the site outside the browsed root" in done.stderr
    assert not (quickstart_root / "site").exists()


def _follow(chrome: Any, css: str, shots: Path, name: str) -> None:
    """Go where the first link matching `css` points, and check that page like any other."""
    href = chrome.find_element("css selector", css).get_attribute("href")
    visit(chrome, href, shots, name)
