"""Every page of the quickstart's run in headless Chromium: it loads with no console error, shows the numbers
the catalog and the outputs hold, and is saved as a screenshot under the test's temporary folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmspec.catalog import Catalog
from lmspec.catalog.store import ArtifactRecord
from lmspec.outputs.documents import Documents
from tests.browser.conftest import Server, visit

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def records(server: Server) -> dict[str, ArtifactRecord]:
    catalog = Catalog(f"sqlite:///{server.root / 'catalog.sqlite'}").open(create=False)
    return {record.step_name: record for record in catalog.artifacts()}


def text_of(chrome: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(chrome.find_element(By.CSS_SELECTOR, css).text)


def count(chrome: Any, css: str) -> int:
    from selenium.webdriver.common.by import By

    return len(chrome.find_elements(By.CSS_SELECTOR, css))


def test_experiments_and_artifacts_lists(server: Server, driver: Any, tmp_path: Path) -> None:
    visit(driver, server.url("/"), tmp_path, "experiments")
    row = text_of(driver, "#experiments tbody tr")
    assert row.startswith("quickstart")
    assert "Filtered vs unfiltered crawl" in row
    assert "cached 12" in row
    visit(driver, server.url("/artifacts/"), tmp_path, "artifacts")
    assert count(driver, "#artifacts tbody tr") == 12
    visit(driver, server.url("/artifacts/?q=model_&sort=step&order=asc"), tmp_path, "artifacts-search")
    rows = [r.split()[0] for r in text_of(driver, "#artifacts tbody").splitlines()]
    assert rows == ["model_clean", "model_raw"]


def test_experiment_page(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    visit(driver, server.url("/experiment/quickstart/"), tmp_path, "experiment")
    assert count(driver, "svg.dag g.node") == 12
    assert count(driver, "svg.dag path.edge") == sum(len(r.inputs) for r in records.values())
    assert count(driver, "#steps tbody tr") == 12
    assert text_of(driver, "#step-statuses") == "cached 12"
    report = text_of(driver, "#report tbody")
    for name in ("eval_clean", "eval_raw"):
        metrics = records[name].metrics
        acc, stderr = metrics["lmspec_cloze/acc"], metrics["lmspec_cloze/acc_stderr"]
        assert f"{acc:.4f} ± {stderr:.4f}" in report
        assert f"{metrics['clean_tokens/bits_per_byte']:.4f}" in report
    assert count(driver, "#loss-chart .uplot") == 1  # uPlot drew the curves: the vendored script ran
    spec_lines = [line.partition("\n") for line in _rows(driver, "#spec tr")]
    assert [number for number, _, _ in spec_lines] == [str(i) for i in range(1, len(spec_lines) + 1)]
    assert spec_lines[0][2] == "#:schema ../schemas/experiment.schema.json"
    assert text_of(driver, "#estimated-cost").startswith("$")


def test_step_page(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    clean = records["clean"]
    visit(driver, server.url(f"/step/{clean.hash}/"), tmp_path, "step-filter")
    config = json.loads(text_of(driver, "#config"))
    assert config["rules"][0]["kind"] == "language"
    upstream = text_of(driver, "#upstream")
    assert "text" in upstream
    assert "pages" in upstream
    assert "quality" in upstream
    assert "deduped" in text_of(driver, "#downstream")
    assert text_of(driver, "#log").strip()
    assert count(driver, "#files a") >= 3


def test_data_pages(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    text = records["text"]
    total = text.counts["documents_out"]
    visit(driver, server.url(f"/step/{text.hash}/data/"), tmp_path, "data")
    assert f"{total:,} documents" in text_of(driver, "#summary")
    assert count(driver, "#documents article.doc") == 50
    visit(driver, server.url(f"/step/{text.hash}/data/?start=100"), tmp_path, "data-later")
    assert text_of(driver, "#documents article.doc header").startswith("#100 ")
    clean = records["clean"]
    scores = sorted(doc["attributes"]["classifier"] for doc in Documents(Path(clean.output_path)).read())
    low, high = scores[len(scores) // 4], scores[len(scores) // 2]
    visit(driver, server.url(f"/step/{clean.hash}/data/?attr=classifier&min={low}&max={high}"), tmp_path, "data-range")
    values = [float(v.text) for v in _attribute_cells(driver, "classifier")]
    assert len(values) == min(50, sum(low <= score <= high for score in scores))
    assert all(round(low, 4) <= value <= round(high, 4) for value in values)
    visit(driver, server.url(f"/step/{text.hash}/data/?q=iterator"), tmp_path, "data-search")
    texts = [t.lower() for t in _texts(driver)]
    assert texts
    assert all("iterator" in t for t in texts)


def test_filter_page(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    clean = records["clean"]
    visit(driver, server.url(f"/step/{clean.hash}/kept/"), tmp_path, "filter")
    kept, dropped = clean.counts["documents_out"], clean.counts["documents_in"] - clean.counts["documents_out"]
    assert text_of(driver, "#summary").startswith(f"{kept:,} kept, {dropped:,} dropped")
    rules = text_of(driver, "#rules tbody").splitlines()
    assert sum("matches" in line for line in rules) == 4  # recomputed counts = the step's stats.json
    assert count(driver, "#rules svg.hist") == 4
    assert count(driver, "#rules line.threshold") >= 3
    assert count(driver, "#kept article.doc") == 20
    whys = [w.text for w in driver.find_elements("css selector", "#dropped .why")]
    assert whys
    assert all(w.startswith("dropped by ") for w in whys)
    visit(driver, server.url(f"/step/{clean.hash}/kept/?rule=1"), tmp_path, "filter-rule")
    whys = [w.text for w in driver.find_elements("css selector", "#dropped .why")]
    assert whys
    assert all(w.startswith("dropped by classifier (rule 1)") for w in whys)


def test_dedup_page(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    deduped = records["deduped"]
    visit(driver, server.url(f"/step/{deduped.hash}/clusters/"), tmp_path, "dedup")
    dropped = deduped.counts["duplicates_dropped"]
    assert f"{dropped:,} documents dropped" in text_of(driver, "#summary")
    assert count(driver, ".cluster") == min(10, dropped)
    similarities = [float(w.text.split()[-1]) for w in driver.find_elements("css selector", ".cluster .similarity")]
    assert similarities
    assert all(s >= 0.8 for s in similarities)


def test_tokens_page(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    tokens = records["clean_tokens"]
    visit(driver, server.url(f"/step/{tokens.hash}/tokens/?doc=3"), tmp_path, "tokens")
    counts = text_of(driver, "#token-counts")
    assert f"{tokens.counts['train_tokens']:,} tokens" in counts
    assert f"{tokens.counts['validation_documents']:,} documents" in counts
    spans = driver.find_elements("css selector", "#tokens .tok")
    assert len(spans) > 10
    assert all(s.get_attribute("title").isdigit() for s in spans[:10])


def test_training_page(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    model = records["model_clean"]
    visit(driver, server.url(f"/step/{model.hash}/training/"), tmp_path, "training")
    captions = text_of(driver, ".charts")
    for title in ("loss", "learning rate", "gradient norm", "tokens/s per device"):
        assert title in captions
    assert count(driver, ".charts .uplot") == count(driver, ".charts figure.chart") >= 4


def test_compare_pages(server: Server, driver: Any, tmp_path: Path, records: dict[str, ArtifactRecord]) -> None:
    clean, raw = records["model_clean"], records["model_raw"]
    visit(driver, server.url(f"/compare/steps/?a={clean.hash}&b={raw.hash}"), tmp_path, "compare-steps")
    assert "data:" in text_of(driver, "#config-diff")  # the two models train on different tokens
    assert count(driver, ".charts .uplot") >= 4  # curves overlaid
    visit(driver, server.url("/compare/experiments/?a=quickstart&b=quickstart"), tmp_path, "compare-experiments")
    assert text_of(driver, "#compare-steps tbody").count("same") == 12
    assert "the two specs are the same" in text_of(driver, "main")
    visit(driver, server.url("/compare/"), tmp_path, "compare")


def _attribute_cells(chrome: Any, name: str) -> list[Any]:
    """The value cells of attribute `name` in every shown document."""
    cells = []
    for doc in chrome.find_elements("css selector", "#documents article.doc"):
        terms = doc.find_elements("css selector", "dl.attrs dt")
        values = doc.find_elements("css selector", "dl.attrs dd")
        cells += [value for term, value in zip(terms, values, strict=False) if term.text == name]
    return cells


def _rows(chrome: Any, css: str) -> list[str]:
    return [row.text for row in chrome.find_elements("css selector", css)]


def _texts(chrome: Any) -> list[str]:
    return [t.get_attribute("textContent") for t in chrome.find_elements("css selector", "#documents pre.text")]
