"""The catalog's pages: experiments, artifacts, one experiment, one step, and comparisons.

Each function takes the browser and the request's parameters and returns a `Page` (a template and what it
shows); the server renders it per request and the static site once, so both show the same thing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.browser import queries
from lmspec.browser.charts import aligned_series
from lmspec.browser.context import Browser, NotFound
from lmspec.browser.dag import layout
from lmspec.browser.experiments import Experiment, experiment, experiments, report
from lmspec.catalog.explain import data_changes
from lmspec.catalog.lineage import lineage_tree
from lmspec.catalog.store import ArtifactRecord
from lmspec.compiler.identity import fingerprint_diff
from lmspec.schemas.data import Dedup, Filter
from lmspec.schemas.kinds import kind_name, producers
from lmspec.schemas.training import Tokenize

Params = Mapping[str, str]
LOG_TAIL_BYTES = 32_000
MAX_FILES = 200
CURVE_GROUPS = {
    "loss": ("loss", "eval_loss"),
    "learning rate": ("lr",),
    "gradient norm": ("grad_norm",),
    "tokens/s per device": ("tokens_per_s_per_device",),
    "step time (s)": ("step_time_s",),
    "TFLOP/s per device": ("tflops_per_device",),
}
"""Training curves drawn together, by the series names the train step records; others get a chart each."""


@dataclass(frozen=True)
class Page:
    """What one page shows: its template, its title, and the values the template reads."""

    template: str
    title: str
    context: dict[str, Any]


def experiments_page(browser: Browser, params: Params) -> Page:
    listing = queries.experiments(
        browser.catalog,
        params.get("q", ""),
        params.get("sort", "started"),
        _descending(params),
        int_param(params, "page", 1),
    )
    rows = experiments(browser, listing.rows)
    return Page("experiments.html", "Experiments", {"listing": listing, "experiments": rows})


def artifacts_page(browser: Browser, params: Params) -> Page:
    listing = queries.artifacts(
        browser.catalog,
        params.get("q", ""),
        params.get("sort", "finished"),
        _descending(params),
        int_param(params, "page", 1),
    )
    return Page("artifacts.html", "Artifacts", {"listing": listing})


def experiment_page(browser: Browser, name: str, params: Params) -> Page:
    runs = queries.runs_of(browser.catalog, name)
    wanted = params.get("run")
    run = next((r for r in runs if r["id"] == wanted), None) if wanted else runs[0]
    if run is None:
        raise NotFound(f"experiment `{name}` has no run `{wanted}`")
    shown = experiment(browser, run, with_spec=True)
    graph = layout([(s.name, s.kind, s.hash, s.status, s.inputs) for s in shown.steps])
    context = {
        "experiment": shown,
        "runs": runs,
        "dag_layout": graph,
        "steps_by_name": {step.name: step for step in shown.steps},
        "step_views": {
            step.name: views(step.kind, step.artifact.status, step.artifact.has_series) if step.artifact else []
            for step in shown.steps
        },
        "report": report(browser, shown),
        "curves": _aligned(_train_curves(browser, shown, "loss")),
    }
    return Page("experiment.html", name, context)


def step_page(browser: Browser, digest: str) -> Page:
    record = queries.artifact(browser.catalog, digest)
    previous = browser.catalog.latest_other(record.step_name, record.output_path)
    changes = []
    if previous is not None:
        changes = data_changes(previous.fingerprint, record.fingerprint) + fingerprint_diff(
            {**previous.fingerprint, "data": {}}, {**record.fingerprint, "data": {}}
        )
    context = {
        "record": record,
        "previous": previous,
        "changes": changes,
        "lineage": lineage_tree(browser.catalog, record),
        "downstream": queries.downstream(browser.catalog, record.output_path),
        "log": _log_tail(browser, record),
        "files": _files(browser, record),
        "views": views(record.kind, record.status, bool(browser.catalog.series(record.output_path))),
    }
    return Page("step.html", f"{record.step_name} {record.hash}", context)


def views(kind: str, status: str, has_series: bool) -> list[tuple[str, str]]:
    """(page, label) of the pages that show an artifact's output: data, filter, dedup, tokens, training."""
    found = []
    special = {kind_name(Filter): ("kept", "kept vs dropped"), kind_name(Dedup): ("clusters", "duplicate clusters")}
    special[kind_name(Tokenize)] = ("tokens", "as tokens")
    if status == "succeeded" and kind in producers("documents"):
        found.append(("data", "documents"))
    if status == "succeeded" and kind in special:
        found.append(special[kind])
    if has_series:
        found.append(("training", "training curves"))
    return found


def training_page(browser: Browser, digest: str) -> Page:
    record = queries.artifact(browser.catalog, digest)
    series = browser.catalog.series(record.output_path)
    if not series:
        raise NotFound(f"step `{record.step_name}` has no training curves in the catalog")
    charts = []
    for title, names in [*CURVE_GROUPS.items(), *((n, (n,)) for n in sorted(series) if not _grouped(n))]:
        present = {name: series[name] for name in names if name in series}
        if present:
            charts.append((title, aligned_series(present)))
    return Page("training.html", f"{record.step_name}: training", {"record": record, "charts": charts})


def compare_page(browser: Browser) -> Page:
    """The forms that choose two steps or two experiments to compare."""
    names = queries.experiments(browser.catalog, "", "name", False, 1).rows
    recent = queries.artifacts(browser.catalog, "", "finished", True, 1).rows
    return Page("compare.html", "Compare", {"experiments": names, "recent": recent})


def compare_steps_page(browser: Browser, params: Params) -> Page:
    a, b = (queries.artifact(browser.catalog, params.get(key, "")) for key in ("a", "b"))
    curves_a, curves_b = browser.catalog.series(a.output_path), browser.catalog.series(b.output_path)
    charts = [
        (name, aligned_series({f"{a.step_name} {a.hash}": curves_a[name], f"{b.step_name} {b.hash}": curves_b[name]}))
        for name in sorted(set(curves_a) & set(curves_b))
    ]
    context = {
        "a": a,
        "b": b,
        "config_diff": fingerprint_diff(a.config, b.config),
        "metrics": _side_by_side(a.metrics, b.metrics),
        "counts": _side_by_side(a.counts, b.counts),
        "charts": charts,
    }
    return Page("compare_steps.html", f"{a.step_name} vs {b.step_name}", context)


def compare_experiments_page(browser: Browser, params: Params) -> Page:
    a, b = (experiment(browser, queries.runs_of(browser.catalog, params.get(k, ""))[0]) for k in ("a", "b"))
    names = list(dict.fromkeys([s.name for s in a.steps] + [s.name for s in b.steps]))
    steps = [(name, _step_or_none(a, name), _step_or_none(b, name)) for name in names]
    reports = {shown.name: report(browser, shown) for shown in (a, b)}
    columns = sorted({column for found in reports.values() for column in found.columns})
    curves = _aligned(
        {**_train_curves(browser, a, "loss", f"{a.name}/"), **_train_curves(browser, b, "loss", f"{b.name}/")}
    )
    spec_diff = difflib.unified_diff(
        str(a.run["spec_text"]).splitlines(), str(b.run["spec_text"]).splitlines(), a.name, b.name, lineterm=""
    )
    context = {
        "a": a,
        "b": b,
        "steps": steps,
        "spec_diff": list(spec_diff),
        "reports": reports,
        "columns": columns,
        "curves": curves,
    }
    return Page("compare_experiments.html", f"{a.name} vs {b.name}", context)


def _train_curves(
    browser: Browser, shown: Experiment, name: str, prefix: str = ""
) -> dict[str, list[tuple[int, float]]]:
    """`prefix + step name` -> its `name` curve, for every train step of `shown` that recorded one."""
    curves = {}
    for step in shown.steps:
        if step.artifact is not None and (points := browser.catalog.series(step.output_path).get(name)):
            curves[prefix + step.name] = points
    return curves


def _aligned(curves: dict[str, list[tuple[int, float]]]) -> dict[str, Any]:
    return aligned_series(curves) if curves else {}


def _step_or_none(shown: Experiment, name: str) -> Any:
    try:
        return shown.step(name)
    except NotFound:
        return None


def _side_by_side(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b))]


def _grouped(name: str) -> bool:
    return any(name in names for names in CURVE_GROUPS.values())


def _log_tail(browser: Browser, record: ArtifactRecord) -> str | None:
    """The last lines of the step's log, when it is under the root."""
    if not record.log_path:
        return None
    try:
        path = browser.local(record.log_path)
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            return f.read().decode("utf-8", errors="replace")
    except (NotFound, OSError):
        return None


def _files(browser: Browser, record: ArtifactRecord) -> list[tuple[str, int]]:
    """(path relative to the output, size) of up to `MAX_FILES` files of the output, sorted."""
    try:
        folder = browser.local(record.output_path)
    except NotFound:
        return []
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append((str(path.relative_to(folder)), path.stat().st_size))
            if len(found) == MAX_FILES:
                break
    return found


def int_param(params: Params, key: str, default: int) -> int:
    try:
        return int(params.get(key, default))
    except ValueError:
        return default


def _descending(params: Params) -> bool:
    return params.get("order", "desc") != "asc"


def file_path(browser: Browser, digest: str, relative: str) -> Path:
    """A file of an artifact's output, for download: inside the output and the root, or `NotFound`."""
    record = queries.artifact(browser.catalog, digest)
    target = browser.inside(record.output_path, relative)
    if not target.is_file():
        raise NotFound(f"{relative} is not a file of {record.output_path}")
    return target
