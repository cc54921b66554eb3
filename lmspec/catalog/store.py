"""Reading and writing the catalog. Every write is one short transaction, so concurrent runs are safe:
SQLite in WAL mode with a busy timeout, or a server database (PostgreSQL) through any SQLAlchemy URL
(`lmspec.catalog.database` sets them up and retries what a busy database refuses)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Column, Connection, Engine, inspect, select, text

from lmspec.catalog import tables
from lmspec.catalog.database import CatalogError, display_url, make_engine, transact
from lmspec.catalog.records import ArtifactEnd, ArtifactStart, RunStart, Series, StepRecord

SCHEMA_VERSION = 3
"""Bump with a migration when the tables change; opening a catalog of another version is an error."""

MIGRATIONS = {
    1: "adds lmspec_series (per-step training curves)",
    2: "adds lmspec_runs.pid (a run whose process is gone is marked abandoned)",
}
"""Version -> what upgrading from it does. Each only adds tables or nullable columns, which `_create` adds,
so the upgrade is the version bump; a migration that changes existing columns would run its statements here."""


def default_catalog_url(root: str) -> str:
    return f"sqlite:///{os.path.join(root, 'catalog.sqlite')}"


@dataclass(frozen=True)
class ArtifactRecord:
    """One artifact as stored, JSON columns decoded."""

    output_path: str
    hash: str
    step_name: str
    kind: str
    experiment: str
    run_id: str | None
    config: dict[str, Any]
    fingerprint: dict[str, Any]
    status: str
    """running, succeeded, failed, or abandoned (its run was killed while it ran)."""
    started_at: float | None
    finished_at: float | None
    duration_s: float | None
    counts: dict[str, Any]
    metrics: dict[str, Any]
    log_path: str | None
    error: str | None
    inputs: dict[str, str]
    """Input step name -> its output path."""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Catalog:
    """A handle on one catalog database; safe to use from forked worker processes (one engine per pid)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._pid = -1

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            self._engine = make_engine(self.url)
            self._pid = os.getpid()
        return self._engine

    def __str__(self) -> str:
        return display_url(self.url)

    def _write[T](self, work: Callable[[Connection], T], conflicts: bool = False) -> T:
        return transact(self.engine, self.url, work, write=True, conflicts=conflicts)

    def _read[T](self, work: Callable[[Connection], T]) -> T:
        return transact(self.engine, self.url, work, write=False)

    def open(self, create: bool = True) -> Catalog:
        """Create the tables if `create` and the database is new, upgrade an older catalog, check the version."""
        if create:
            self._write(_create, conflicts=True)
        version = self._read(_version)
        if version in MIGRATIONS:
            self._write(_create, conflicts=True)
            version = self._write(_migrate, conflicts=True)
        if version != SCHEMA_VERSION:
            raise CatalogError(
                f"the catalog at {self} has schema version {version}; this lmspec reads version "
                f"{SCHEMA_VERSION}. Use a lmspec release that matches, or start a new catalog with --catalog."
            )
        return self

    # -- writes ---------------------------------------------------------------------------------
    def start_run(self, run: RunStart) -> None:
        """Record `run` as running."""
        self._write(lambda conn: conn.execute(tables.runs.insert().values(**_row(run), status="running")))

    def finish_run(self, run_id: str, status: str) -> None:
        update = tables.runs.update().where(tables.runs.c.id == run_id)
        self._write(lambda conn: conn.execute(update.values(status=status, finished_at=time.time())))

    def record_artifact(self, start: ArtifactStart) -> None:
        """Insert or replace the artifact at `start.output_path` as running, and its input edges, atomically
        (a re-run of a forced or failed step replaces the earlier record and its series)."""
        self._write(lambda conn: _replace_artifact(conn, start))

    def finish_artifact(self, end: ArtifactEnd) -> None:
        """Update the artifact recorded when its step started (status, timings, counts, ...); edges stay."""
        self._write(lambda conn: _end_artifact(conn, end))

    def record_series(self, output_path: str, series: Series) -> None:
        """Replace the per-step series of an artifact."""
        self._write(lambda conn: _replace_series(conn, output_path, series))

    def restore(self, record: StepRecord) -> None:
        """Record a published output from its own step record: its run (unless the catalog has it; how that
        run ended is `unknown`), the artifact as it started and ended, its edges and series. Another process
        restoring the same output at once is a conflict, retried: the last one wins, with the same rows."""

        def work(conn: Connection) -> None:
            if conn.execute(select(tables.runs.c.id).where(tables.runs.c.id == record.run.id)).first() is None:
                conn.execute(tables.runs.insert().values(**_row(record.run), status="unknown"))
            _replace_artifact(conn, record.start)
            _end_artifact(conn, record.end)
            _replace_series(conn, record.start.output_path, record.series)

        self._write(work, conflicts=True)

    def abandon(self, artifacts: dict[str, str | None], runs: Iterable[str]) -> None:
        """Mark `abandoned` the artifacts (output path -> the run recorded as executing it) and runs that are
        still `running`: their process was killed. An artifact another run has since taken over is left alone."""
        a, r = tables.artifacts, tables.runs

        def work(conn: Connection) -> None:
            for path, run_id in artifacts.items():
                still = (a.c.output_path == path, a.c.status == "running", a.c.run_id == run_id)
                conn.execute(a.update().where(*still).values(status="abandoned"))
            for run_id in runs:
                conn.execute(r.update().where(r.c.id == run_id, r.c.status == "running").values(status="abandoned"))

        if artifacts or runs:
            self._write(work)

    # -- reads ----------------------------------------------------------------------------------
    def series(self, output_path: str) -> Series:
        """name -> [(step, value), ...] in step order."""
        s = tables.series
        query = select(s.c.name, s.c.step, s.c.value).where(s.c.output_path == output_path).order_by(s.c.name, s.c.step)
        found: Series = {}
        for name, step, value in self._read(lambda conn: conn.execute(query).all()):
            found.setdefault(name, []).append((step, value))
        return found

    def artifacts(self, limit: int | None = None) -> list[ArtifactRecord]:
        query = select(tables.artifacts).order_by(tables.artifacts.c.finished_at.desc().nulls_last())
        return self._artifacts(query.limit(limit) if limit else query)

    def find(self, key: str) -> ArtifactRecord | None:
        """An artifact by output path, hash (or unique hash prefix), or step name (the latest one)."""
        a = tables.artifacts
        for query in (
            select(a).where(a.c.output_path == key),
            select(a).where(a.c.hash == key),
            select(a).where(a.c.hash.startswith(key)) if len(key) >= 4 else None,
            select(a).where(a.c.step_name == key).order_by(a.c.finished_at.desc().nulls_last()).limit(1),
        ):
            if query is None:
                continue
            found = self._artifacts(query)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise CatalogError(f"`{key}` matches {len(found)} artifacts; give more of the hash or the path")
        return None

    def latest_other(self, step_name: str, output_path: str) -> ArtifactRecord | None:
        """The most recent artifact of `step_name` other than `output_path` (what `explain` compares with)."""
        a = tables.artifacts
        query = (
            select(a)
            .where(a.c.step_name == step_name, a.c.output_path != output_path)
            .order_by(a.c.finished_at.desc().nulls_last())
            .limit(1)
        )
        found = self._artifacts(query)
        return found[0] if found else None

    def succeeded(self, output_paths: list[str]) -> set[str]:
        """Those of `output_paths` recorded as succeeded."""
        a = tables.artifacts
        query = select(a.c.output_path).where(a.c.output_path.in_(output_paths), a.c.status == "succeeded")
        return set(self._read(lambda conn: conn.execute(query).scalars().all())) if output_paths else set()

    def running(self) -> tuple[dict[str, tuple[str | None, int | None]], dict[str, str | None]]:
        """What is recorded as running: runs (id -> (host, pid)) and artifacts (output path -> run id)."""
        r, a = tables.runs, tables.artifacts

        def work(conn: Connection) -> tuple[dict[str, tuple[str | None, int | None]], dict[str, str | None]]:
            runs = conn.execute(select(r.c.id, r.c.host, r.c.pid).where(r.c.status == "running")).all()
            artifacts = conn.execute(select(a.c.output_path, a.c.run_id).where(a.c.status == "running")).all()
            return {i: (host, pid) for i, host, pid in runs}, {path: run for path, run in artifacts}

        return self._read(work)

    def _artifacts(self, query: Any) -> list[ArtifactRecord]:
        def work(conn: Connection) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
            rows = [dict(row) for row in conn.execute(query).mappings().all()]
            edges: dict[str, dict[str, str]] = {row["output_path"]: {} for row in rows}
            if edges:
                for edge in conn.execute(select(tables.inputs).where(tables.inputs.c.output_path.in_(list(edges)))):
                    edges[edge.output_path][edge.input_name] = edge.input_path
            return rows, edges

        rows, edges = self._read(work)
        return [
            ArtifactRecord(
                **{k: json.loads(v) if k in _JSON_COLUMNS else v for k, v in row.items()},
                inputs=edges[row["output_path"]],
            )
            for row in rows
        ]


_JSON_COLUMNS = frozenset({"config", "fingerprint", "counts", "metrics", "versions"})


def _row(record: RunStart | ArtifactStart | ArtifactEnd) -> dict[str, Any]:
    """A record's fields as column values, JSON columns encoded (sorted keys: the same record, the same text)."""
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    return {k: json.dumps(v, sort_keys=True) if k in _JSON_COLUMNS else v for k, v in values.items()}


def _create(conn: Connection) -> None:
    """Create missing tables and columns and the version row. Two runs starting at once may race to create
    the same table; the loser's conflict is retried (`transact`), and then finds the tables there."""
    tables.metadata.create_all(conn)
    present = inspect(conn)
    for table in tables.metadata.sorted_tables:
        have = {column["name"] for column in present.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                conn.execute(_add_column(conn, table.name, column))
    found = conn.execute(select(tables.meta.c.value).where(tables.meta.c.key == "schema_version")).first()
    if found is None:
        conn.execute(tables.meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))


def _add_column(conn: Connection, table: str, column: Column[Any]) -> Any:
    """`ALTER TABLE ... ADD COLUMN` for a nullable column (SQLAlchemy Core has no construct for it)."""
    quote = conn.dialect.identifier_preparer.quote
    kind = column.type.compile(dialect=conn.dialect)
    return text(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} {kind}")


def _version(conn: Connection) -> int | None:
    row = conn.execute(select(tables.meta.c.value).where(tables.meta.c.key == "schema_version")).first()
    return int(row[0]) if row else None


def _migrate(conn: Connection) -> int | None:
    """Upgrade an older catalog in place, one version at a time (tables and columns were added by `_create`)."""
    version = _version(conn)
    while version is not None and version in MIGRATIONS:
        version += 1
        conn.execute(tables.meta.update().where(tables.meta.c.key == "schema_version").values(value=str(version)))
    return version


def _replace_artifact(conn: Connection, start: ArtifactStart) -> None:
    values = _row(start)
    values.pop("inputs")  # a table of its own
    path = start.output_path
    conn.execute(tables.inputs.delete().where(tables.inputs.c.output_path == path))
    conn.execute(tables.series.delete().where(tables.series.c.output_path == path))
    conn.execute(tables.artifacts.delete().where(tables.artifacts.c.output_path == path))
    conn.execute(tables.artifacts.insert().values(**values, status="running"))
    if start.inputs:
        conn.execute(
            tables.inputs.insert(),
            [{"output_path": path, "input_name": n, "input_path": p} for n, p in sorted(start.inputs.items())],
        )


def _end_artifact(conn: Connection, end: ArtifactEnd) -> None:
    values = _row(end)
    path = values.pop("output_path")  # the key, not a change
    conn.execute(tables.artifacts.update().where(tables.artifacts.c.output_path == path).values(**values))


def _replace_series(conn: Connection, output_path: str, series: Series) -> None:
    rows = [
        {"output_path": output_path, "name": name, "step": step, "value": value}
        for name, points in series.items()
        for step, value in points
    ]
    conn.execute(tables.series.delete().where(tables.series.c.output_path == output_path))
    if rows:
        conn.execute(tables.series.insert(), rows)
