"""The catalog store on real SQLite files: concurrent creation, typed records round trips, version checks,
upgrades, step records, orphans of killed runs, and what a locked or read-only catalog says."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from lmspec.catalog import (
    ArtifactEnd,
    ArtifactStart,
    Catalog,
    CatalogError,
    CatalogLocked,
    CatalogReadOnly,
    RunStart,
    StepRecord,
    tables,
)
from lmspec.catalog.database import display_url
from lmspec.catalog.recovery import abandon_orphans
from lmspec.outputs.lifecycle import Lease


def _open(url: str) -> None:
    Catalog(url).open()


def test_processes_creating_one_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    """Runs started together race to create the tables; every one of them must get a working catalog."""
    context = multiprocessing.get_context("spawn")
    for round_ in range(4):
        url = f"sqlite:///{tmp_path}/round-{round_}/catalog.sqlite"
        processes = [context.Process(target=_open, args=(url,)) for _ in range(4)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(timeout=60)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]


def _artifact(name: str, digest: str, inputs: dict[str, str]) -> ArtifactStart:
    return ArtifactStart(
        output_path=f"/r/{name}-{digest}",
        hash=digest,
        step_name=name,
        kind="k",
        experiment="e",
        run_id="r1",
        config={"x": 1},
        fingerprint={"config": {"x": 1}},
        started_at=1.5,
        log_path=f"/r/{name}-{digest}.tmp-t/log",
        inputs=inputs,
    )


def test_artifact_round_trip_and_lookup_by_hash_prefix_path_and_step(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite").open()
    catalog.start_run(
        RunStart(
            id="r1",
            experiment="e",
            spec_path="s.toml",
            spec_text="",
            plan_hash="p",
            root=str(tmp_path),
            git_commit=None,
            user="u",
            host="h",
            pid=1,
            started_at=1.0,
            versions={"lmspec": "0.1.0", "jax": None},
        )
    )
    docs, clean = _artifact("docs", "aaaa1111", {}), _artifact("clean", "bbbb2222", {"docs": "/r/docs-aaaa1111"})
    for start in (docs, clean):
        catalog.record_artifact(start)
    running = catalog.find("docs")
    assert running is not None
    assert (running.status, running.log_path, running.finished_at) == ("running", docs.log_path, None)

    catalog.finish_artifact(ArtifactEnd(clean.output_path, "succeeded", 2.0, 0.5, "/r/log", {"n": 3}, {"m": 0.5}))
    catalog.finish_artifact(ArtifactEnd(docs.output_path, "failed", 3.0, 1.5, "/r/failed-log", error="boom"))
    found = catalog.find("bbbb")
    assert found is not None
    assert (found.step_name, found.status, found.counts, found.metrics, found.inputs, found.config) == (
        "clean",
        "succeeded",
        {"n": 3},
        {"m": 0.5},
        {"docs": "/r/docs-aaaa1111"},
        {"x": 1},
    )
    failed = catalog.find("/r/docs-aaaa1111")
    assert failed == catalog.find("docs")
    assert failed is not None
    assert (failed.status, failed.error, failed.duration_s, failed.log_path) == ("failed", "boom", 1.5, "/r/failed-log")
    assert catalog.find("zzzz") is None
    with catalog.engine.connect() as conn:
        [(status, versions)] = conn.execute(select(tables.runs.c.status, tables.runs.c.versions)).all()
    assert (status, json.loads(versions)) == ("running", {"lmspec": "0.1.0", "jax": None})
    catalog.finish_run("r1", "succeeded")
    catalog.engine.dispose()


def test_unreachable_database_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        Catalog("sqlite:////proc/no-such-dir/c.sqlite").open()


def _run_start(run_id: str, host: str = "h", pid: int = 1) -> RunStart:
    return RunStart(run_id, "e", "s.toml", "", "p", "/r", None, "u", host, pid, 1.0, {})


def _end(path: str) -> ArtifactEnd:
    return ArtifactEnd(path, "succeeded", 2.0, 0.5, f"{path}/log", {"n": 3}, {"m": 0.5})


def test_a_step_record_round_trips_and_moves_with_its_root() -> None:
    start = _artifact("clean", "bbbb2222", {"docs": "/r/docs-aaaa1111", "other": "/elsewhere/x-1"})
    record = StepRecord(_run_start("r1"), start, _end(start.output_path), {"loss": [(0, 2.5), (1, 2.0)]})
    assert StepRecord.from_json(json.loads(json.dumps(record.to_json()))) == record

    moved = record.moved_to("/new/root/clean-bbbb2222")
    assert moved.start.output_path == moved.end.output_path == "/new/root/clean-bbbb2222"
    assert moved.start.inputs == {"docs": "/new/root/docs-aaaa1111", "other": "/elsewhere/x-1"}
    assert (moved.end.log_path, moved.run.root) == ("/new/root/clean-bbbb2222/log", "/new/root")
    assert record.moved_to(start.output_path) is record
    for broken in ({"hash": "x"}, {**record.to_json(), "run": {"id": "r1"}}):
        with pytest.raises(ValueError, match="step record"):
            StepRecord.from_json(broken)


def test_restore_records_an_output_with_its_run_edges_and_series(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite").open()
    start = _artifact("clean", "bbbb2222", {"docs": "/r/docs-aaaa1111"})
    record = StepRecord(_run_start("gone"), start, _end(start.output_path), {"loss": [(0, 2.5)]})
    for _ in range(2):  # restoring twice is the same as once
        catalog.restore(record)
    found = catalog.find("clean")
    assert found is not None
    assert (found.status, found.inputs, found.counts, found.started_at, found.finished_at) == (
        "succeeded",
        {"docs": "/r/docs-aaaa1111"},
        {"n": 3},
        1.5,
        2.0,
    )
    assert catalog.series(start.output_path) == {"loss": [(0, 2.5)]}
    with catalog.engine.connect() as conn:
        assert conn.execute(select(tables.runs.c.id, tables.runs.c.status)).all() == [("gone", "unknown")]
    assert catalog.succeeded([start.output_path, "/r/other"]) == {start.output_path}


def test_abandon_touches_only_what_the_named_run_still_runs(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite").open()
    for run_id in ("r1", "r2"):
        catalog.start_run(_run_start(run_id))
    catalog.record_artifact(_artifact("docs", "aaaa1111", {}))  # run r1
    catalog.record_artifact(_artifact("clean", "bbbb2222", {}))
    catalog.finish_artifact(_end("/r/clean-bbbb2222"))
    catalog.abandon({"/r/docs-aaaa1111": "r2", "/r/clean-bbbb2222": "r1"}, ["r1"])
    assert [(a.step_name, a.status) for a in catalog.artifacts()] == [("clean", "succeeded"), ("docs", "running")]
    catalog.abandon({"/r/docs-aaaa1111": "r1"}, [])
    assert catalog.running() == ({"r2": ("h", 1)}, {})


def test_orphans_are_abandoned_by_dead_process_or_left_lease(tmp_path: Path) -> None:
    """Runs on this host whose process is gone, and steps whose lease a dead holder left, become abandoned;
    a live process, and a run on another host without a lease in sight, stay running."""
    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite").open()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = socket.gethostname()
    runs = {"dead": (here, dead.pid), "alive": (here, os.getpid()), "far": ("far", 1), "leased": ("far", 2)}
    for run_id, (host, pid) in runs.items():
        catalog.start_run(_run_start(run_id, host, pid))
    for run_id in runs:
        catalog.record_artifact(
            replace(_artifact(run_id, "cccc3333", {}), run_id=run_id, output_path=f"{tmp_path}/{run_id}-c")
        )
    Lease(tmp_path / "leased-c").path.write_text(json.dumps({"token": "t", "pid": dead.pid, "host": here}))
    abandon_orphans(catalog)
    assert catalog.running() == (
        {"alive": (here, os.getpid()), "far": ("far", 1)},
        {f"{tmp_path}/alive-c": "alive", f"{tmp_path}/far-c": "far"},
    )
    assert {a.step_name: a.status for a in catalog.artifacts()}["leased"] == "abandoned"


def test_a_version_2_catalog_gains_the_pid_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    catalog = Catalog(f"sqlite:///{path}").open()
    catalog.start_run(_run_start("old"))
    catalog.engine.dispose()
    db = sqlite3.connect(path)
    with db:
        db.execute("alter table lmspec_runs drop column pid")
        db.execute("update lmspec_meta set value = '2' where key = 'schema_version'")
    db.close()
    reopened = Catalog(f"sqlite:///{path}").open(create=False)  # reading an older catalog upgrades it
    assert reopened.running() == ({"old": ("h", None)}, {})
    reopened.start_run(_run_start("new", pid=7))
    assert reopened.running()[0]["new"] == ("h", 7)


def _hold(path: Path, held: threading.Event, release: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    held.set()
    release.wait()
    db.execute("ROLLBACK")
    db.close()


def test_a_lock_held_briefly_is_waited_out_and_a_lock_held_too_long_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.sqlite"
    Catalog(f"sqlite:///{path}").open().engine.dispose()
    monkeypatch.setenv("LMSPEC_CATALOG_TIMEOUT_S", "0.5")
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold, args=(path, held, release))
    holder.start()
    held.wait()
    try:
        with pytest.raises(CatalogLocked, match=r"is locked: another process held it for the 0.5 s lmspec waits"):
            Catalog(f"sqlite:///{path}").start_run(_run_start("r1"))
        monkeypatch.setenv("LMSPEC_CATALOG_TIMEOUT_S", "60")
        threading.Timer(0.5, release.set).start()
        Catalog(f"sqlite:///{path}").start_run(_run_start("r2"))  # waits for the lock, then writes
    finally:
        release.set()
        holder.join()


def test_a_read_only_catalog_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    Catalog(f"sqlite:///{path}").open().engine.dispose()
    read_only = Catalog(f"sqlite:///file:{path}?mode=ro&uri=true").open()
    assert read_only.artifacts() == []
    with pytest.raises(CatalogReadOnly, match=f"cannot write to the catalog at {path}: it is read-only"):
        read_only.start_run(_run_start("r1"))


def test_a_postgres_url_is_shown_without_its_password() -> None:
    assert display_url("postgresql+psycopg://me:secret@db:5432/lmspec") == "postgresql+psycopg://me:***@db:5432/lmspec"
