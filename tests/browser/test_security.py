"""The browser is inert and read-only: script payloads in a document's text and id, an attribute's name and
value, a metadata field, a step name, an experiment's description, tags and issue link are shown as text and
never run; URLs that try to leave the root get 404; nothing under the root changes; no route writes.

The payload root is made the way users make one: `lmspec run` on a spec whose description and input data
carry the payloads (run twice, the second time with a changed rule, so a step page has a diff to show),
plus one artifact written through the catalog's API with a payload step name, as a plugin could record.
"""

from __future__ import annotations

import http.client
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from lmspec.catalog import ArtifactEnd, ArtifactStart, Catalog
from lmspec.outputs.documents import Document, ShardWriter, shard_paths
from tests.browser.conftest import Server, browse, lmspec, visit

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

DESCRIPTION = "<script>alert('description')</script> \"onerror=alert(1) x=\" <img src=x onerror=alert('img')>"
TEXT = "<script>alert('text')</script>\n\"onerror=alert('text') <img src=x onerror=alert('text')> and more words here"
STEP_NAME = "<script>alert('step')</script>"
ATTRIBUTE = "<b onmouseover=alert('attribute')>score</b>"
VALUE = "\"onerror=alert('value') <img src=x onerror=alert('value')>"
HAND_HASH = "0123456789ab"
SPEC = """
[experiment]
name = "payloads"
description = {description}
issue = "javascript:alert('issue')"
tags = ["<img src=x onerror=alert('tag')>"]

[steps.docs]
kind = "ingest"
paths = ["docs.jsonl"]
format = "jsonl"
id_field = "id"

[steps.marked]
kind = "filter"
input = "@docs"
mode = "annotate"
rules = [{{ kind = "length", min_words = {min_words} }}]
"""


@pytest.fixture(scope="module")
def payload_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("payloads")
    records = [
        {"id": "<script>alert('id')</script>", "text": TEXT, "note": VALUE},
        *({"id": f"plain-{i}", "text": f"a plain document number {i} " * (i + 1)} for i in range(5)),
    ]
    (folder / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    root = folder / "runs"
    for min_words in (3, 6):
        (folder / "spec.toml").write_text(SPEC.format(description=json.dumps(DESCRIPTION), min_words=min_words))
        done = lmspec("run", str(folder / "spec.toml"), "--root", str(root), "--quiet")
        assert done.returncode == 0, done.stdout + done.stderr
    _hand_made_artifact(root)
    return root


def _hand_made_artifact(root: Path) -> None:
    """An artifact with a payload step name and attribute, recorded through the catalog's API."""
    output = root / f"hand-{HAND_HASH}"
    output.mkdir()
    writer = ShardWriter(shard_paths(output, 1, "gzip")[0])
    doc = Document(id="hand-1", text=TEXT, source="hand", metadata={}, attributes={ATTRIBUTE: VALUE, "n": 1})
    writer.write(doc)
    writer.close()
    (output / "escape").symlink_to("/etc/passwd")
    (output / "up").symlink_to("..")
    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}").open(create=False)
    now = time.time()
    log = str(output / "lmspec-step.log")
    catalog.record_artifact(
        ArtifactStart(str(output), HAND_HASH, STEP_NAME, "ingest", "payloads", "hand", {}, {}, now, log, {})
    )
    catalog.finish_artifact(ArtifactEnd(str(output), "succeeded", now, 0.0, log, counts={"documents_out": 1}))


@pytest.fixture(scope="module")
def payload_server(payload_root: Path) -> Any:
    with browse(payload_root) as running:
        yield running


def _hashes(root: Path) -> dict[str, str]:
    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}").open(create=False)
    return {f"{r.step_name}@{r.config.get('rules', [{}])[0].get('min_words', '')}": r.hash for r in catalog.artifacts()}


def test_payloads_are_shown_as_text_and_never_run(payload_server: Server, driver: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    hashes = _hashes(payload_server.root)
    marked = hashes["marked@6"]
    pages = {
        "/": [DESCRIPTION, "<img src=x onerror=alert('tag')>", "javascript:alert('issue')"],
        "/experiment/payloads/": [DESCRIPTION, "javascript:alert('issue')"],
        "/artifacts/": [STEP_NAME],
        f"/step/{HAND_HASH}/": [STEP_NAME],
        f"/step/{HAND_HASH}/data/": [TEXT.split("\n")[0], ATTRIBUTE, VALUE],
        f"/step/{hashes['docs@']}/data/": ["<script>alert('id')</script>", TEXT.split("\n")[0], VALUE],
        f"/step/{marked}/kept/": [TEXT.split("\n")[0]],
        f"/step/{marked}/": ["rules[0].min_words: 3 -> 6"],
        f"/compare/steps/?a={hashes['marked@3']}&b={marked}": ["rules[0].min_words: 3 -> 6"],
    }
    for number, (path, shown) in enumerate(pages.items()):
        visit(driver, payload_server.url(path), tmp_path, f"page-{number}")
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert  # noqa: B018 (reading it is the check)
        body = driver.find_element("tag name", "body").text
        for payload in shown:
            assert payload in body, f"{path}: {payload!r} is not shown as text"
        assert not driver.find_elements("css selector", "[onerror], [onmouseover], [onload], main script")
        assert not driver.find_elements("css selector", "a[href^='javascript:']")


def test_urls_outside_the_root_get_404(payload_server: Server) -> None:
    marked = _hashes(payload_server.root)["marked@6"]
    assert _get(payload_server, f"/step/{marked}/files/stats.json")[0] == 200  # the route works at all
    for path in (
        f"/step/{marked}/files/../../catalog.sqlite",
        f"/step/{marked}/files/%2e%2e/%2e%2e/catalog.sqlite",
        f"/step/{marked}/files/..%2f..%2fcatalog.sqlite",
        f"/step/{marked}/files//etc/passwd",
        f"/step/{marked}/files/%2Fetc%2Fpasswd",
        f"/step/{HAND_HASH}/files/escape",
        f"/step/{HAND_HASH}/files/up/catalog.sqlite",
        "/static/../../../../../etc/passwd",
        "/static/%2e%2e/app.py",
        "/step/..%2f..%2f/",
        "/experiment/..%2f..%2fetc/",
    ):
        status, body = _get(payload_server, path)
        assert status == 404, f"{path}: {status}"
        assert b"root:" not in body


def test_nothing_is_written_and_nothing_takes_a_body(payload_root: Path, payload_server: Server) -> None:
    before = _snapshot(payload_root)
    for path in ("/", "/experiment/payloads/", f"/step/{HAND_HASH}/data/"):
        assert _get(payload_server, path)[0] == 200
    for method in ("POST", "PUT", "DELETE"):
        assert _request(payload_server, method, "/")[0] == 405
    assert _snapshot(payload_root) == before


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under the root but the browser's index and the database's own files: (size, mtime)."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            relative = path.relative_to(root)
            if relative.parts[0] != ".browse-index" and not name.startswith("catalog.sqlite"):
                found[str(relative)] = (path.lstat().st_size, path.lstat().st_mtime_ns)
    return found


def _get(server: Server, path: str) -> tuple[int, bytes]:
    return _request(server, "GET", path)


def _request(server: Server, method: str, path: str) -> tuple[int, bytes]:
    """The path sent as written (no client-side normalisation of `..`)."""
    address = urlsplit(server.base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
