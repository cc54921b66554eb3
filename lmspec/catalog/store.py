"""Reading and writing the catalog. Every write is one short transaction, so concurrent runs are safe:
SQLite in WAL mode with a busy timeout, or a server database (PostgreSQL) through any SQLAlchemy URL."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from lmspec.catalog import tables
from lmspec.catalog.records import ArtifactEnd, ArtifactStart, RunStart
from lmspec.errors import LmspecError

SCHEMA_VERSION = 2
"""Bump with a migration when the tables change; opening a catalog of another version is an error."""

MIGRATIONS = {1: "adds lmspec_series (per-step training curves)"}
"""Version -> what upgrading from it does. Each only adds tables, which `create_all` creates, so the
upgrade is the version bump; a migration that changes existing tables would run its statements here."""


class CatalogError(LmspecError):
    """The catalog cannot be opened or used (wrong schema version, unreachable database)."""


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
            self._engine = _make_engine(self.url)
            self._pid = os.getpid()
        return self._engine

    def open(self, create: bool = True) -> Catalog:
        """Create the tables if `create` and the database is new; check the schema version."""
        try:
            if create:
                self._create()
            with self.engine.connect() as conn:
                row = conn.execute(select(tables.meta.c.value).where(tables.meta.c.key == "schema_version")).first()
        except SQLAlchemyError as exc:
            raise CatalogError(f"cannot open the catalog at {self.url}: {_first_line(exc)}") from None
        version = int(row[0]) if row else None
        if create and version in MIGRATIONS:
            version = self._migrate(version)
        if version != SCHEMA_VERSION:
            raise CatalogError(
                f"the catalog at {self.url} has schema version {version}; this lmspec reads version "
                f"{SCHEMA_VERSION}. Use a lmspec release that matches, or start a new catalog with --catalog."
            )
        return self

    def _create(self, attempts: int = 5) -> None:
        """Create missing tables and the version row. Two runs starting at once may race to create the
        same table; the loser's error is retried, and then finds the tables there."""
        for attempt in range(attempts):
            try:
                tables.metadata.create_all(self.engine)
                with self.engine.begin() as conn:
                    found = conn.execute(select(tables.meta.c.value).where(tables.meta.c.key == "schema_version"))
                    if found.first() is None:
                        conn.execute(tables.meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                return
            except (OperationalError, IntegrityError, ProgrammingError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _migrate(self, version: int) -> int:
        """Upgrade an older catalog in place, one version at a time (tables were created by `_create`)."""
        while version in MIGRATIONS:
            with self.engine.begin() as conn:
                conn.execute(
                    tables.meta.update().where(tables.meta.c.key == "schema_version").values(value=str(version + 1))
                )
            version += 1
        return version

    # -- writes ---------------------------------------------------------------------------------
    def start_run(self, run: RunStart) -> None:
        """Record `run` as running."""
        with self.engine.begin() as conn:
            conn.execute(tables.runs.insert().values(**_row(run), status="running"))

    def finish_run(self, run_id: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                tables.runs.update().where(tables.runs.c.id == run_id).values(status=status, finished_at=time.time())
            )

    def record_artifact(self, start: ArtifactStart) -> None:
        """Insert or replace the artifact at `start.output_path` as running, and its input edges, atomically
        (a re-run of a forced or failed step replaces the earlier record and its series)."""
        values = _row(start)
        values.pop("inputs")  # a table of its own
        path = start.output_path
        with self.engine.begin() as conn:
            conn.execute(tables.inputs.delete().where(tables.inputs.c.output_path == path))
            conn.execute(tables.series.delete().where(tables.series.c.output_path == path))
            conn.execute(tables.artifacts.delete().where(tables.artifacts.c.output_path == path))
            conn.execute(tables.artifacts.insert().values(**values, status="running"))
            if start.inputs:
                conn.execute(
                    tables.inputs.insert(),
                    [{"output_path": path, "input_name": n, "input_path": p} for n, p in sorted(start.inputs.items())],
                )

    def finish_artifact(self, end: ArtifactEnd) -> None:
        """Update the artifact recorded when its step started (status, timings, counts, ...); edges stay."""
        values = _row(end)
        path = values.pop("output_path")  # the key, not a change
        with self.engine.begin() as conn:
            conn.execute(tables.artifacts.update().where(tables.artifacts.c.output_path == path).values(**values))

    def record_series(self, output_path: str, series: dict[str, list[tuple[int, float]]]) -> None:
        """Replace the per-step series of an artifact."""
        rows = [
            {"output_path": output_path, "name": name, "step": step, "value": value}
            for name, points in series.items()
            for step, value in points
        ]
        with self.engine.begin() as conn:
            conn.execute(tables.series.delete().where(tables.series.c.output_path == output_path))
            if rows:
                conn.execute(tables.series.insert(), rows)

    # -- reads ----------------------------------------------------------------------------------
    def series(self, output_path: str) -> dict[str, list[tuple[int, float]]]:
        """name -> [(step, value), ...] in step order."""
        s = tables.series
        query = select(s.c.name, s.c.step, s.c.value).where(s.c.output_path == output_path).order_by(s.c.name, s.c.step)
        found: dict[str, list[tuple[int, float]]] = {}
        with self.engine.connect() as conn:
            for name, step, value in conn.execute(query):
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

    def _artifacts(self, query: Any) -> list[ArtifactRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            paths = [r["output_path"] for r in rows]
            edges: dict[str, dict[str, str]] = {p: {} for p in paths}
            if paths:
                for edge in conn.execute(select(tables.inputs).where(tables.inputs.c.output_path.in_(paths))):
                    edges[edge.output_path][edge.input_name] = edge.input_path
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


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        folder = os.path.dirname(os.path.abspath(url.removeprefix("sqlite:///")))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise CatalogError(f"cannot open the catalog at {url}: cannot create {folder}: {exc.strerror}") from None
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers and one writer work at once; the busy timeout makes writers queue, not fail.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=60000")  # first, so switching to WAL waits instead of failing
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts and survives a killed process; only an OS crash may lose
            # the last commits, which the success markers on disk (the source of truth) still record.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise CatalogError(f"cannot use catalog URL {url}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, OperationalError) and exc.orig is not None:
        return str(exc.orig).splitlines()[0]
    return str(exc).splitlines()[0]
