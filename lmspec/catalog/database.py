"""The catalog's database connection: engines set up for many concurrent runs, and transactions that wait
out a busy database and turn what the database says went wrong into what the user should do about it.

SQLite: WAL (readers never wait for the writer), a busy timeout (writers queue), and a retry of the whole
transaction when SQLite answers busy at once instead of waiting (a read that must become a write while
another process writes, a WAL snapshot that went stale). PostgreSQL: a lock timeout, so a session that
holds a lock forever is reported instead of hanging every run, and retries of serialization failures and
deadlocks. Both wait `LMSPEC_CATALOG_TIMEOUT_S` (default 60 s) in all before giving up.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError

from lmspec.errors import LmspecError

DEFAULT_WAIT_S = 60.0
"""How long a catalog operation waits for other processes' locks before it fails (LMSPEC_CATALOG_TIMEOUT_S)."""


class CatalogError(LmspecError):
    """The catalog cannot be opened or used (wrong schema version, unreachable database)."""


class CatalogLocked(CatalogError):
    """Another process held the catalog's lock for longer than we wait."""


class CatalogReadOnly(CatalogError):
    """The catalog can be read but not written by this process."""


type Problem = Literal["busy", "read-only", "cannot-open", "conflict", "other"]

_SQLITE_PROBLEMS: dict[str, Problem] = {
    "SQLITE_BUSY": "busy",
    "SQLITE_LOCKED": "busy",
    "SQLITE_READONLY": "read-only",
    "SQLITE_PERM": "read-only",
    "SQLITE_CANTOPEN": "cannot-open",
}
"""By prefix of SQLite's extended error name (SQLITE_BUSY_SNAPSHOT, SQLITE_READONLY_DIRECTORY, ...)."""
_POSTGRES_PROBLEMS: dict[str, Problem] = {
    "40001": "busy",  # serialization_failure
    "40P01": "busy",  # deadlock_detected
    "55P03": "busy",  # lock_not_available (our lock_timeout)
    "25006": "read-only",  # read_only_sql_transaction (a standby, default_transaction_read_only)
    "42501": "read-only",  # insufficient_privilege
    "23505": "conflict",  # unique_violation
    "42P07": "conflict",  # duplicate_table
    "42701": "conflict",  # duplicate_column
}
"""By SQLSTATE."""


def wait_s() -> float:
    return float(os.environ.get("LMSPEC_CATALOG_TIMEOUT_S", DEFAULT_WAIT_S))


def display_url(url: str) -> str:
    """The catalog as the user knows it: a SQLite file's path, or the URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return path
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_path(url: str) -> str | None:
    """The file of a `sqlite:///PATH` URL (`sqlite:///file:PATH?mode=ro&uri=true` too); None for others."""
    if not url.startswith("sqlite:///"):
        return None
    parsed = make_url(url)
    database = parsed.database or ""
    return database.removeprefix("file:") if parsed.query.get("uri") == "true" else database


def make_engine(url: str) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        return _sqlite_engine(url, path)
    try:
        options = {"options": f"-c lock_timeout={int(wait_s() * 1000)}"} if url.startswith("postgresql") else {}
        return create_engine(url, pool_pre_ping=True, connect_args=options)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise CatalogError(f"cannot use catalog URL {display_url(url)}: {first_line(exc)}") from None


def _sqlite_engine(url: str, path: str) -> Engine:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise CatalogError(f"cannot open the catalog at {path}: cannot create {folder}: {exc.strerror}") from None
    wait = wait_s()
    engine = create_engine(url, connect_args={"timeout": wait})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers and one writer work at once; the busy timeout makes writers queue, not fail.
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")  # first, so switching to WAL waits too
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts and survives a killed process; only an OS crash may lose
        # the last commits, which the step records on disk (the source of truth) still hold.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def transact[T](
    engine: Engine, url: str, work: Callable[[Connection], T], *, write: bool, conflicts: bool = False
) -> T:
    """`work(connection)` in one transaction (committed if `write`), retried while the database is busy
    (and on a conflicting concurrent insert when `conflicts`: creating tables, re-recording an artifact),
    until `wait_s()` has passed; then a CatalogError that says what happened and what to do."""
    deadline = time.monotonic() + wait_s()
    delay = 0.02
    while True:
        try:
            if write:
                with engine.begin() as conn:
                    return work(conn)
            with engine.connect() as conn:
                return work(conn)
        except DBAPIError as exc:
            problem = classify(exc)
            if (problem == "busy" or (conflicts and problem == "conflict")) and time.monotonic() < deadline:
                time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: runs that collided do not collide again
                delay = min(delay * 2, 1.0)
                continue
            raise explain(exc, url, problem) from None
        except SQLAlchemyError as exc:
            raise explain(exc, url, "other") from None


def classify(exc: DBAPIError) -> Problem:
    """What kind of trouble a database error is, from SQLite's error name or PostgreSQL's SQLSTATE."""
    if isinstance(exc, IntegrityError):  # a row another process inserted first
        return "conflict"
    name = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(name, str):
        found = [problem for prefix, problem in _SQLITE_PROBLEMS.items() if name.startswith(prefix)]
        if found:
            return found[0]
        text = str(exc.orig)  # SQLite reports DDL races as plain SQLITE_ERROR
        return "conflict" if "already exists" in text or "duplicate column" in text else "other"
    state = getattr(exc.orig, "sqlstate", None)
    return _POSTGRES_PROBLEMS.get(state, "other") if isinstance(state, str) else "other"


def explain(exc: SQLAlchemyError, url: str, problem: Problem) -> CatalogError:
    """The error to show for `exc`: what happened to which catalog, and what to do next."""
    where, cause = display_url(url), first_line(exc)
    path = sqlite_path(url)
    if problem == "busy":
        holder = f"`fuser {path}` lists the processes that have it open" if path else "see pg_stat_activity"
        return CatalogLocked(
            f"the catalog at {where} is locked: another process held it for the {wait_s():g} s lmspec waits "
            f"({cause}). Finish or stop that process ({holder}; an open `sqlite3` shell in a transaction is a "
            "common cause) and run again, or wait longer with LMSPEC_CATALOG_TIMEOUT_S=SECONDS."
        )
    if problem == "read-only":
        fix = "the file and its folder (SQLite writes -wal and -shm files beside it)" if path else "the database"
        return CatalogReadOnly(
            f"cannot write to the catalog at {where}: it is read-only for this process ({cause}). Make {fix} "
            "writable for this user, or record this run in another catalog with --catalog URL."
        )
    if problem == "cannot-open":
        return CatalogError(
            f"cannot open the catalog at {where} ({cause}): check that its folder exists and that this user "
            "may create files in it (SQLite writes -wal and -shm files beside the catalog)."
        )
    return CatalogError(f"cannot use the catalog at {where}: {cause}")


def first_line(exc: BaseException) -> str:
    """The database's own message (not SQLAlchemy's wrapper with its statement and help link)."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(orig or exc).__name__
