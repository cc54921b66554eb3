"""The parts under the pages, without a browser: the document index, searching, matching a step's input to
its output, the SQL listings, links and the graph layout. Outputs are written with lmspec's own shard
writer; the catalog is a real SQLite database."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lmspec.browser import pages, queries
from lmspec.browser.context import Browser, NotFound
from lmspec.browser.dag import layout
from lmspec.browser.derived import aligned
from lmspec.browser.docindex import BLOCK_DOCUMENTS, STREAM_LIMIT, document_index, stream_documents
from lmspec.browser.documents import PAGE_DOCUMENTS, DocumentQuery, output_index, page, search
from lmspec.browser.links import Links
from lmspec.browser.render import render
from lmspec.catalog import ArtifactEnd, ArtifactStart, Catalog, RunStart
from lmspec.errors import LmspecError
from lmspec.outputs.documents import Document, ShardWriter, shard_paths

pytestmark = pytest.mark.browser

SHARD_SIZES = (300, 0, 2 * BLOCK_DOCUMENTS + 7)
"""An empty shard, and shards that end inside blocks: documents cross block and shard edges."""


def write_output(folder: Path, sizes: tuple[int, ...], keep: int = 1, compression: str = "gzip") -> list[Document]:
    """A documents output of `sizes` shards holding every `keep`-th document; returns all documents."""
    folder.mkdir(parents=True)
    every: list[Document] = []
    for shard, (path, size) in enumerate(zip(shard_paths(folder, len(sizes), compression), sizes, strict=True)):
        writer = ShardWriter(path)
        for i in range(size):
            doc = Document(
                id=f"{shard}-{i}",
                text=f"document {shard}-{i} " + ("needle " if i % 97 == 5 else "") + "words " * (i % 7),
                source="test",
                metadata={"shard": shard},
                attributes={"score": i / 10},
            )
            every.append(doc)
            if len(every) % keep == 0:
                writer.write(doc)
        writer.close()
    return every


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    root = tmp_path / "root"
    root.mkdir()
    Catalog(f"sqlite:///{root / 'catalog.sqlite'}").open(create=True)
    return Browser.open(root)


def test_any_page_of_the_index_is_the_documents_at_that_position(browser: Browser) -> None:
    output = browser.root / "docs-aaaa"
    every = write_output(output, SHARD_SIZES, compression="zstd")
    index = output_index(browser, output)
    assert index.total == len(every)
    assert index.shard_starts == (0, 300, 300, len(every))
    for start in (0, 1, BLOCK_DOCUMENTS - 3, 299, 300, BLOCK_DOCUMENTS * 2 - 1, len(every) - 2, len(every)):
        assert index.documents(start, start + PAGE_DOCUMENTS) == every[start : start + PAGE_DOCUMENTS]
    assert [number for number, _ in index.scan(len(every) - 3)] == [len(every) - 3, len(every) - 2, len(every) - 1]
    assert index.document(512) == every[512]
    assert stream_documents(output, 290, 310) == every[290:310]


def test_a_page_reads_the_shards_until_the_index_is_built(browser: Browser) -> None:
    output = browser.root / "docs-bbbb"
    every = write_output(output, (STREAM_LIMIT - 500, 1000))
    first = page(browser, output, 0)  # from the shards (no stats.json here: the total is not known yet)
    assert [doc for _, doc in first.documents] == every[:PAGE_DOCUMENTS]
    assert first.next_start == PAGE_DOCUMENTS
    last = page(browser, output, len(every) - 10)  # past STREAM_LIMIT: from the index, waiting for it
    assert last.total == len(every)
    assert [number for number, _ in last.documents] == list(range(len(every) - 10, len(every)))
    assert last.next_start is None


def test_a_changed_output_is_indexed_again(browser: Browser) -> None:
    output = browser.root / "docs-cccc"
    write_output(output, (10,))
    folder = browser.index_dir / "changed"
    assert document_index(output, folder).total == 10
    for shard in output.iterdir():
        shard.unlink()
    output.rmdir()
    time.sleep(0.01)
    write_output(output, (4,))
    assert document_index(output, folder).total == 4


def test_search_matches_text_and_attribute_ranges_and_says_where_it_stopped(browser: Browser) -> None:
    output = browser.root / "docs-dddd"
    every = write_output(output, SHARD_SIZES)
    found = search(browser, output, DocumentQuery(text="NEEDLE"), 0)
    expected = [i for i, doc in enumerate(every) if "needle" in doc["text"]]
    assert [number for number, _ in found.documents] == expected
    assert found.next_start is None
    ranged = search(browser, output, DocumentQuery(attribute="score", low=2.0, high=2.05), 0)
    assert [doc["attributes"]["score"] for _, doc in ranged.documents] == [2.0] * 2
    exact = search(browser, output, DocumentQuery(attribute="shard", value="2"), 0)
    assert len(exact.documents) == PAGE_DOCUMENTS
    assert exact.next_start == 300 + PAGE_DOCUMENTS
    assert search(browser, output, DocumentQuery(attribute="missing"), 0).documents == []


def test_an_output_is_matched_to_its_input_shard_by_shard(browser: Browser) -> None:
    source, kept = browser.root / "in-eeee", browser.root / "out-ffff"
    every = write_output(source, SHARD_SIZES)
    write_output(kept, SHARD_SIZES, keep=3)
    pairs = [(number, out) for number, _, out, _ in aligned(output_index(browser, source), output_index(browser, kept))]
    assert [number for number, out in pairs if out >= 0] == [i for i in range(len(every)) if (i + 1) % 3 == 0]
    assert [out for _, out in pairs if out >= 0] == list(range(len(every) // 3))


def test_paths_outside_the_root_are_not_found(browser: Browser, tmp_path: Path) -> None:
    (browser.root / "out").mkdir()
    (browser.root / "out" / "file").write_text("x")
    os.symlink(tmp_path, browser.root / "out" / "link")
    assert browser.inside(browser.root / "out", "file") == browser.root / "out" / "file"
    for relative in ("../catalog.sqlite", "/etc/passwd", "link/root/catalog.sqlite", "link"):
        with pytest.raises(NotFound):
            browser.inside(browser.root / "out", relative)
    with pytest.raises(NotFound):
        browser.local(str(browser.root) + "-sibling/x")


def test_listings_page_in_sql(browser: Browser) -> None:
    catalog = browser.catalog
    started = time.time()
    for i in range(120):
        path = str(browser.root / f"step_{i % 7}-{i:012x}")
        start = ArtifactStart(path, f"{i:012x}", f"step_{i % 7}", "ingest", "exp", "run", {}, {}, started + i, "", {})
        catalog.record_artifact(start)
        catalog.finish_artifact(ArtifactEnd(path, "succeeded", started + i, float(i), ""))
    listing = queries.artifacts(catalog, "", "finished", True, 2)
    assert listing.total == 120
    assert listing.pages == 3
    assert [row["hash"] for row in listing.rows] == [f"{i:012x}" for i in range(69, 19, -1)]
    assert queries.artifacts(catalog, "step_3", "duration", False, 1).total == len(range(3, 120, 7))
    assert queries.artifacts(catalog, "%", "finished", True, 1).total == 0  # LIKE wildcards are literal


def test_static_links_are_relative_and_take_no_query() -> None:
    assert Links().to("step", "abc", "data", start=50, q="") == "/step/abc/data/?start=50"
    assert Links.for_page(("step", "abc")).to("experiment", "x") == "../../experiment/x/index.html"
    assert Links.for_page(()).asset("style.css") == "static/style.css"
    with pytest.raises(LmspecError):
        Links(static=True).to("artifacts", page=2)


def test_the_graph_layout_has_no_overlapping_steps() -> None:
    steps = [("a", "ingest", "1", "cached", []), ("b", "extract", "2", "cached", ["a"])]
    steps += [(f"c{i}", "filter", str(i), "pending", ["b"]) for i in range(3)]
    steps += [("d", "dedup", "9", "failed", ["c0", "c2"])]
    graph = layout(steps)
    corners = {(node.x, node.y) for node in graph.nodes}
    assert len(corners) == len(steps)
    assert len(graph.edges) == 6
    assert all(0 <= node.x < graph.width and 0 <= node.y < graph.height for node in graph.nodes)
    depth = {node.name: node.y for node in graph.nodes}
    assert depth["a"] < depth["b"] < depth["c1"] < depth["d"]


def test_a_catalog_that_is_not_there_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LmspecError, match=r"no catalog at .*run `lmspec run SPEC --root"):
        Browser.open(tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_experiment_without_its_record_is_shown_from_the_catalog(browser: Browser) -> None:
    """A run whose experiment record is not under the root (a shared catalog, a deleted folder): its steps
    come from the catalog, in graph order, without estimates."""
    catalog = browser.catalog
    run = RunStart("run-1", "elsewhere", "spec.toml", "[experiment]\n", "p1", "/far/away", None, "u", "h", 1, 0.0, {})
    catalog.start_run(run)
    for name, inputs in (("b", {"a": "/far/away/a-1"}), ("a", {})):
        path = f"/far/away/{name}-1"
        catalog.record_artifact(
            ArtifactStart(path, f"{name}1", name, "ingest", "elsewhere", "run-1", {}, {}, 0, "", inputs)
        )
        catalog.finish_artifact(ArtifactEnd(path, "succeeded", 1.0, 1.0, ""))
    html = render(pages.experiment_page(browser, "elsewhere", {}), Links())
    assert "not under this root" in html
    shown = pages.experiments_page(browser, {}).context["experiments"][0]
    assert [(step.name, step.inputs, step.status) for step in shown.steps] == [
        ("a", [], "unknown"),
        ("b", ["a"], "unknown"),
    ]
    graph = pages.experiment_page(browser, "elsewhere", {}).context["dag_layout"]
    depth = {node.name: node.y for node in graph.nodes}
    assert depth["a"] < depth["b"]


def test_two_experiments_compare_by_their_specs(browser: Browser) -> None:
    for name, lr in (("low", "1e-3"), ("high", "3e-3")):
        spec = f'[experiment]\nname = "{name}"\n\n[steps.model]\nlr = {lr}\n'
        browser.catalog.start_run(RunStart(name, name, "s.toml", spec, "p", "/far", None, "u", "h", 1, 0.0, {}))
    page = pages.compare_experiments_page(browser, {"a": "low", "b": "high"})
    assert [line for line in page.context["spec_diff"] if line[0] in "+-" and line[:3] not in ("+++", "---")] == [
        '-name = "low"',
        '+name = "high"',
        "-lr = 1e-3",
        "+lr = 3e-3",
    ]
    assert 'class="del">-lr = 1e-3</span>' in render(page, Links())
