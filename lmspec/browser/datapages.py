"""The data pages of a step: its documents (paged, searched, filtered by attribute), a filter's kept and
dropped documents with its rules' histograms, a dedup's clusters, a tokenize step's documents as tokens."""

from __future__ import annotations

from typing import Any

import numpy as np

from lmspec.browser import queries
from lmspec.browser.charts import histogram
from lmspec.browser.clusters import dedup_view
from lmspec.browser.context import Browser, NotFound
from lmspec.browser.documents import DocumentQuery, output_index, page, search
from lmspec.browser.filtering import KEPT, filter_view
from lmspec.browser.pages import Page, Params, int_param
from lmspec.browser.tokenview import tokenized_document
from lmspec.catalog.store import ArtifactRecord
from lmspec.schemas.kinds import kind_name, producers
from lmspec.schemas.training import Tokenize

SIDE_DOCUMENTS = 20
"""Documents per column on the side-by-side pages (filter, dedup): texts are long."""
CLUSTERS_PER_PAGE = 10


def data_page(browser: Browser, digest: str, params: Params) -> Page:
    record = _documents_artifact(browser, digest)
    output = browser.local(record.output_path)
    query = DocumentQuery(
        text=params.get("q", ""),
        attribute=params.get("attr", ""),
        value=params.get("value", ""),
        low=_float(params, "min"),
        high=_float(params, "max"),
    )
    start = int_param(params, "start", 0)
    found = search(browser, output, query, start) if query.active else page(browser, output, start)
    return Page("data.html", f"{record.step_name}: documents", {"record": record, "found": found, "query": query})


def filter_page(browser: Browser, digest: str, params: Params) -> Page:
    record = _documents_artifact(browser, digest)
    view = filter_view(browser, record)
    source = output_index(browser, view.source)
    rule = int_param(params, "rule", -1)
    rule = rule if 0 <= rule < len(view.spec.rules) else -1
    kept_start, dropped_start = int_param(params, "kept", 0), int_param(params, "dropped", 0)
    kept = np.flatnonzero(view.dropped_by == KEPT)
    dropped = view.dropped(rule if rule >= 0 else None)

    def rows(numbers: np.ndarray, start: int) -> list[tuple[int, dict[str, Any], int, float | None]]:
        """(input number, document, rule that dropped it or KEPT, that rule's score) from `start`."""
        chosen = numbers[max(0, start) : max(0, start) + SIDE_DOCUMENTS].tolist()
        found = []
        for n in chosen:
            by = int(view.dropped_by[n])
            found.append((n, source.document(n), by, float(view.scores[n, by]) if by >= 0 else None))
        return found

    rules = [
        {
            "position": i,
            "rule": spec_rule,
            "recomputed": view.rule_counts()[i],
            "histogram": histogram(view.scores[:, i], view.dropped_by == i, view.thresholds[i]),
        }
        for i, spec_rule in enumerate(view.spec.rules)
    ]
    context = {
        "record": record,
        "view": view,
        "rules": rules,
        "recorded": view.recorded_counts(),
        "rule": rule,
        "kept": rows(kept, kept_start),
        "dropped": rows(dropped, dropped_start),
        "kept_total": len(kept),
        "dropped_all": int(np.count_nonzero(view.dropped_by != KEPT)),
        "dropped_total": len(dropped),
        "kept_start": kept_start,
        "dropped_start": dropped_start,
        "side": SIDE_DOCUMENTS,
    }
    return Page("filter.html", f"{record.step_name}: kept vs dropped", context)


def dedup_page(browser: Browser, digest: str, params: Params) -> Page:
    record = _documents_artifact(browser, digest)
    view = dedup_view(browser, record)
    source = output_index(browser, view.source)
    clusters = view.clusters()
    start = max(0, int_param(params, "start", 0))
    shown = [
        (
            source.document(kept) if kept >= 0 else None,
            kept,
            [(n, source.document(n), float(view.similarity[n])) for n in members[:SIDE_DOCUMENTS]],
            len(members),
        )
        for kept, members in clusters[start : start + CLUSTERS_PER_PAGE]
    ]
    context = {
        "record": record,
        "view": view,
        "clusters": shown,
        "total": len(clusters),
        "dropped": sum(len(m) for _, m in clusters),
        "start": start,
        "per_page": CLUSTERS_PER_PAGE,
    }
    return Page("dedup.html", f"{record.step_name}: duplicate clusters", context)


def tokens_page(browser: Browser, digest: str, params: Params) -> Page:
    record = queries.artifact(browser.catalog, digest)
    if record.kind != kind_name(Tokenize):
        raise NotFound(f"step `{record.step_name}` is a {record.kind} step, not a tokenize step")
    shown = tokenized_document(browser, record, int_param(params, "doc", 0))
    return Page("tokens.html", f"{record.step_name}: tokens", {"record": record, "shown": shown})


def _documents_artifact(browser: Browser, digest: str) -> ArtifactRecord:
    record = queries.artifact(browser.catalog, digest)
    if record.kind not in producers("documents") or record.status != "succeeded":
        raise NotFound(f"step `{record.step_name}` ({record.kind}, {record.status}) has no documents to show")
    return record


def _float(params: Params, key: str) -> float | None:
    try:
        return float(params[key]) if params.get(key) else None
    except ValueError:
        return None
