"""The catalog queries behind the list pages: searched, sorted and paginated in SQL, so a catalog with tens of
thousands of artifacts lists a page in milliseconds (only the page's rows leave the database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select

from lmspec.browser.context import NotFound
from lmspec.catalog import tables
from lmspec.catalog.store import ArtifactRecord, Catalog

PAGE_SIZE = 50
IN_CHUNK = 900
"""Values per `IN (...)`: under the 999 bound parameters of older SQLite builds."""


@dataclass(frozen=True)
class Listing:
    """One page of a list: its rows, how many rows match in all, and the request that made it."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    q: str
    sort: str
    descending: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


EXPERIMENT_SORTS = {"name": "experiment", "started": "started_at", "finished": "finished_at", "runs": "runs"}
ARTIFACT_SORTS = {
    "step": "step_name",
    "kind": "kind",
    "experiment": "experiment",
    "status": "status",
    "finished": "finished_at",
    "duration": "duration_s",
}


def experiments(catalog: Catalog, q: str, sort: str, descending: bool, page: int) -> Listing:
    """The latest run of every experiment, with its number of runs, matching `q` in its name or spec text."""
    r = tables.runs
    latest = (
        select(r.c.experiment, func.max(r.c.started_at).label("latest"), func.count().label("runs"))
        .group_by(r.c.experiment)
        .subquery()
    )
    query = select(r, latest.c.runs).join(
        latest, (r.c.experiment == latest.c.experiment) & (r.c.started_at == latest.c.latest)
    )
    if q:
        query = query.where(
            or_(r.c.experiment.contains(q, autoescape=True), r.c.spec_text.contains(q, autoescape=True))
        )
    column = EXPERIMENT_SORTS.get(sort, "started_at")
    order = latest.c.runs if column == "runs" else r.c[column]
    return _page(catalog, query, order, descending, page, q, sort)


def artifacts(catalog: Catalog, q: str, sort: str, descending: bool, page: int) -> Listing:
    """Artifacts (without their configs) matching `q` in step name, kind, experiment or hash."""
    a = tables.artifacts
    columns = [a.c[name] for name in ("output_path", "hash", "step_name", "kind", "experiment", "status")]
    columns += [a.c.started_at, a.c.finished_at, a.c.duration_s]
    query = select(*columns)
    if q:
        like = [a.c[name].contains(q, autoescape=True) for name in ("step_name", "kind", "experiment", "hash")]
        query = query.where(or_(*like))
    column = ARTIFACT_SORTS.get(sort, "finished_at")
    return _page(catalog, query, a.c[column], descending, page, q, sort)


def _page(catalog: Catalog, query: Select[Any], order: Any, descending: bool, page: int, q: str, sort: str) -> Listing:
    page = max(1, page)
    ordered = query.order_by(order.desc().nulls_last() if descending else order.asc().nulls_last())
    with catalog.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(ordered.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).mappings().all()
    return Listing([dict(row) for row in rows], int(total), page, q, sort, descending)


def runs_of(catalog: Catalog, experiment: str) -> list[dict[str, Any]]:
    """Every run of `experiment`, newest first; `NotFound` when there is none."""
    r = tables.runs
    with catalog.engine.connect() as conn:
        rows = conn.execute(select(r).where(r.c.experiment == experiment).order_by(r.c.started_at.desc())).mappings()
        found = [dict(row) for row in rows]
    if not found:
        raise NotFound(f"no experiment `{experiment}` in the catalog")
    return found


def artifact(catalog: Catalog, digest: str) -> ArtifactRecord:
    """The artifact with this full hash (the newest one if several roots share a catalog); `NotFound` else."""
    a = tables.artifacts
    query = select(a.c.output_path).where(a.c.hash == digest).order_by(a.c.finished_at.desc().nulls_last())
    return _one(catalog, query.limit(1), f"no artifact with hash `{digest}` in the catalog")


def artifacts_at(catalog: Catalog, paths: list[str]) -> dict[str, ArtifactRecord]:
    """Output path -> full artifact (config, metrics, inputs), for those of `paths` the catalog holds."""
    found = {path: catalog.find(path) for path in paths}
    return {path: record for path, record in found.items() if record is not None}


@dataclass(frozen=True)
class StepFacts:
    """What a list of steps shows of each artifact, read for all of them in two queries."""

    output_path: str
    step_name: str
    hash: str
    kind: str
    status: str
    duration_s: float | None
    has_series: bool
    inputs: tuple[str, ...]
    """The output paths it read."""


def step_facts(catalog: Catalog, paths: list[str]) -> dict[str, StepFacts]:
    """Output path -> its facts, for those of `paths` the catalog holds (three queries per `IN_CHUNK` paths)."""
    found: dict[str, StepFacts] = {}
    for start in range(0, len(paths), IN_CHUNK):
        found.update(_step_facts(catalog, paths[start : start + IN_CHUNK]))
    return found


def _step_facts(catalog: Catalog, paths: list[str]) -> dict[str, StepFacts]:
    a, s, i = tables.artifacts, tables.series, tables.inputs
    columns = (a.c.output_path, a.c.step_name, a.c.hash, a.c.kind, a.c.status, a.c.duration_s)
    with catalog.engine.connect() as conn:
        rows = conn.execute(select(*columns).where(a.c.output_path.in_(paths))).all()
        curves = set(conn.execute(select(s.c.output_path).where(s.c.output_path.in_(paths)).distinct()).scalars())
        edges = conn.execute(select(i.c.output_path, i.c.input_path).where(i.c.output_path.in_(paths))).all()
    read: dict[str, list[str]] = {}
    for path, source in edges:
        read.setdefault(path, []).append(source)
    return {
        row.output_path: StepFacts(
            *row, has_series=row.output_path in curves, inputs=tuple(read.get(row.output_path, ()))
        )
        for row in rows
    }


def downstream(catalog: Catalog, output_path: str) -> list[ArtifactRecord]:
    """The artifacts that read `output_path` as an input, by step name."""
    i = tables.inputs
    with catalog.engine.connect() as conn:
        readers = conn.execute(select(i.c.output_path).where(i.c.input_path == output_path)).scalars().all()
    return sorted(artifacts_at(catalog, list(readers)).values(), key=lambda record: record.step_name)


def _one(catalog: Catalog, query: Select[Any], missing: str) -> ArtifactRecord:
    with catalog.engine.connect() as conn:
        path = conn.execute(query).scalar()
    record = catalog.find(path) if path is not None else None
    if record is None:
        raise NotFound(missing)
    return record


def paths_of_runs(catalog: Catalog, run_ids: list[str]) -> dict[str, list[str]]:
    """Run id -> the output paths of the artifacts it recorded."""
    a = tables.artifacts
    found: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    if run_ids:
        with catalog.engine.connect() as conn:
            for run_id, path in conn.execute(select(a.c.run_id, a.c.output_path).where(a.c.run_id.in_(run_ids))):
                found[run_id].append(path)
    return found
